"""Reads of orders and fills, always scoped to their owner."""

from __future__ import annotations

import uuid as uuid_mod
from collections import defaultdict
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from apps.accounts.models import Balance, Wallet, Withdrawal, WithdrawalStatus
from apps.orders.errors import OrderNotFound
from apps.orders.models import (
    LIVE_STATUSES,
    CommandKind,
    Order,
    OrderCommand,
    Trade,
)
from apps.orders.validation import CLIENT_ORDER_ID_RE


def order_get_for_user(*, user: AbstractBaseUser | int, order_ref: str) -> Order:
    """The user's order by its id (UUID) or ``client:<client_order_id>``;
    ORDER_NOT_FOUND for anything else, including another user's order."""
    qs = Order.objects.select_related("pair__base", "pair__quote").filter(user=user)
    if order_ref.startswith("client:"):
        client_id = order_ref.removeprefix("client:")
        # Text no client_order_id can be (NUL and other bytes PostgreSQL
        # refuses included) never reaches the database.
        order = (
            qs.filter(client_order_id=client_id).first()
            if CLIENT_ORDER_ID_RE.match(client_id)
            else None
        )
    else:
        try:
            order = qs.filter(uuid=uuid_mod.UUID(order_ref)).first()
        except ValueError:
            order = None
    if order is None:
        raise OrderNotFound(details={"order_id": order_ref[:80]})
    return order


def orders_for_user(
    *,
    user: AbstractBaseUser,
    pair_id: int | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    side: str | None = None,
) -> QuerySet[Order]:
    """Newest first. ``status`` "live" means pending, open or partially filled."""
    qs = Order.objects.select_related("pair__base", "pair__quote").filter(user=user)
    if pair_id is not None:
        qs = qs.filter(pair_id=pair_id)
    if status == "live":
        qs = qs.filter(status__in=LIVE_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    if side:
        qs = qs.filter(side=side)
    return qs.order_by("-pk")


def fills_for_user(
    *,
    user: AbstractBaseUser,
    pair_id: int | None = None,
    order: Order | None = None,
    orders: list[Order] | None = None,
    before_id: int | None = None,
) -> QuerySet[Trade]:
    qs = Trade.objects.select_related(
        "pair__base", "pair__quote", "maker_order", "taker_order"
    ).filter(Q(maker_user=user) | Q(taker_user=user))
    if pair_id is not None:
        qs = qs.filter(pair_id=pair_id)
    if order is not None:
        qs = qs.filter(Q(maker_order=order) | Q(taker_order=order))
    if orders is not None:
        qs = qs.filter(Q(maker_order__in=orders) | Q(taker_order__in=orders))
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return qs.order_by("-pk")


def held_problems() -> list[str]:
    """Held funds that belong to nothing, or things that lost their funds:
    every (user, asset, wallet)'s ``held`` must equal what its live orders
    still hold (the hold minus what fills spent) plus its pending
    withdrawals, plus what queued amends hold on top of their orders
    (``OrderCommand.hold_add``, until the matcher applies or releases it).
    ``ledger_problems`` cannot see a release applied twice or
    never; this can. (For the matcher and API paths; a bare ``balance_hold``
    in a unit test holds for nothing by design.)

    Here, above accounts, because it reads orders: accounts knows nothing of
    what holds its funds."""
    expected: dict[tuple[int, int, str], int] = defaultdict(int)
    live = Order.objects.filter(status__in=LIVE_STATUSES).select_related("pair")
    for order in live:
        pair = order.pair
        spent = (  # of the held asset, by fills
            order.filled_quote + order.fee
            if order.side == "buy"
            else order.filled_size * pair.lot_size
        )
        key = (order.user_id, pair.held_asset_id(order.side), Wallet.SPOT)
        expected[key] += order.hold_amount - spent
    queued_amends = OrderCommand.objects.filter(
        kind=CommandKind.AMEND, processed_at__isnull=True, hold_add__gt=0
    ).select_related("order__pair")
    for command in queued_amends:
        order = command.order
        key = (order.user_id, order.pair.held_asset_id(order.side), Wallet.SPOT)
        expected[key] += command.hold_add
    for w in Withdrawal.objects.filter(status=WithdrawalStatus.PENDING):
        expected[(w.user_id, w.asset_id, w.wallet)] += w.amount
    problems = []
    for b in Balance.objects.all():
        key = (b.user_id, b.asset_id, b.wallet)
        if b.held != expected.pop(key, 0):
            problems.append(
                f"balance {key} holds {b.held}, its orders and withdrawals {expected.get(key, 'less')}"
            )
    for key, amount in expected.items():
        if amount:
            problems.append(
                f"orders/withdrawals of {key} hold {amount} without a balance row"
            )
    return problems
