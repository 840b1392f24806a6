"""Order placement on the API side, and the bounded wait for its outcome.

The API never touches a book: it validates, holds funds and queues a command
in ONE transaction (written by placement.py); the matcher does the rest. See
DESIGN.md "The order path". Cancels are queued by cancels.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection
from django.db.models import Min, Q

from apps.accounts.errors import InsufficientFunds
from apps.accounts.ledger import (
    BalanceChange,
)
from apps.accounts.models import LedgerReason, Wallet
from apps.apikeys.models import ApiKey
from apps.core.errors import DomainError, ErrorCode, Overloaded
from apps.core.money import check_units
from apps.markets.models import Pair, PairStatus
from apps.matching.engine import band_limit, buy_limit_hold
from apps.orders import bus
from apps.orders.errors import ClientOrderIdConflict
from apps.orders.models import (
    FINAL_STATUSES,
    MATCHER_FIELDS,
    CommandKind,
    Order,
    OrderCommand,
    OrderStatus,
    OrderType,
)
from apps.orders.placement import place_general, place_in_one_statement
from apps.orders.validation import OrderRequest


def check_pair_accepts(pair: Pair, kind: str) -> None:
    if pair.status == PairStatus.HALTED:
        raise DomainError(
            f"{pair.symbol} is halted.",
            code=ErrorCode.MARKET_HALTED,
            details={"pair": pair.symbol},
        )
    if pair.status == PairStatus.CANCEL_ONLY and kind == CommandKind.PLACE:
        raise DomainError(
            f"{pair.symbol} accepts cancels only.",
            code=ErrorCode.MARKET_CANCEL_ONLY,
            details={"pair": pair.symbol},
        )


_queue_memo: dict[int, tuple[float, int]] = {}


def queue_depth(pair_id: int) -> int:
    """Unprocessed commands of the pair, counted at most up to the bound and
    at most every MATCHER_QUEUE_CHECK_MS per process: the count stays O(bound) and off
    the hot path, and the bound may be overshot by one memo period's orders."""
    now = time.monotonic()
    memo = _queue_memo.get(pair_id)
    if memo is not None and now - memo[0] < settings.MATCHER_QUEUE_CHECK_MS / 1000:
        return memo[1]
    bound = settings.MATCHER_MAX_QUEUE
    depth = OrderCommand.objects.filter(pair_id=pair_id, processed_at__isnull=True)[
        :bound
    ].count()
    _queue_memo[pair_id] = (now, depth)
    return depth


def _check_queue(pair: Pair) -> None:
    queued = queue_depth(pair.pk)
    if queued >= settings.MATCHER_MAX_QUEUE:
        raise Overloaded(
            f"{pair.symbol}'s matcher queue is full; retry shortly.",
            details={"pair": pair.symbol, "queued": queued},
        )  # a 503: the exception handler adds Retry-After


def _reference_ask(pair: Pair) -> int | None:
    """Best resting ask from the database, to bound a market buy by size."""
    return (
        Order.objects.filter(
            pair=pair,
            side="sell",
            status__in=(OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED),
        )
        .filter(
            Q(type=OrderType.LIMIT)
            | Q(type=OrderType.STOP_LIMIT, triggered_at__isnull=False)
        )
        .aggregate(p=Min("price"))["p"]
    )


def hold_amount(pair: Pair, req: OrderRequest) -> int:
    """What to hold, in minor units of ``pair.held_asset(req.side)``.

    Sells hold their size. Limit buys hold price x size plus the worst-case fee.
    Market buys by funds hold the funds (fees included). Market buys by size
    hold at the price band's edge above the best ask (a stop: above its stop
    price), so the engine can fill within the band without exceeding the hold.
    """
    if req.side == "sell":
        assert req.size is not None
        return req.size * pair.lot_size
    if req.funds is not None:
        return req.funds
    cfg = pair.book_config()
    assert req.size is not None
    if req.price is not None:
        return buy_limit_hold(req.price, req.size, cfg)
    ref = req.stop_price if req.stop_price is not None else _reference_ask(pair)
    if ref is None:
        raise DomainError(
            "No resting asks to bound a market buy by size; send funds or a limit order.",
            code=ErrorCode.ORDER_NO_REFERENCE_PRICE,
            details={"pair": pair.symbol},
        )
    return buy_limit_hold(band_limit(ref, True, pair.price_band_bps), req.size, cfg)


def _request_of(order: Order) -> OrderRequest:
    return OrderRequest(
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        stp=order.stp,
        price=order.price,
        stop_price=order.stop_price,
        size=order.size,
        funds=order.funds,
        client_order_id=order.client_order_id,
    )


def _replay(user_id: int, pair: Pair, req: OrderRequest) -> PlaceResult | None:
    """The answer to a repeated ``client_order_id``: the original order
    (``replayed``), or ORDER_CLIENT_ID_CONFLICT when it differs; None when
    the request has no id or its id is new."""
    if not req.client_order_id:
        return None
    existing = Order.objects.filter(
        user_id=user_id, client_order_id=req.client_order_id
    ).first()
    if existing is None:
        return None
    if existing.pair_id != pair.pk or not _request_of(existing).same_order_as(req):
        diff = (
            ["pair"]
            if existing.pair_id != pair.pk
            else _request_of(existing).differences(req)
        )
        raise ClientOrderIdConflict(
            "client_order_id was already used for a different order.",
            details={
                "client_order_id": req.client_order_id,
                "order_id": str(existing.uuid),
                "different_fields": diff,
            },
        )
    return PlaceResult(existing, True)


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: Order
    replayed: bool


def order_place(
    *,
    user_id: int,
    pair: Pair,
    req: OrderRequest,
    api_key: ApiKey | None = None,
    in_shared_transaction: bool = False,
) -> PlaceResult:
    """Hold the funds and queue the order as ``pending``, in one transaction.

    Takes the user's id, not the user: the hot path never needs the user row.
    Locks the one balance row being held (through the money service, within
    this transaction: any error rolls back order, hold and command). A repeated
    ``client_order_id`` returns the original order (``replayed``) or raises
    ORDER_CLIENT_ID_CONFLICT; of two racing requests with the same id one
    commits and the other replays it (see the except clause), so only one
    order and one hold ever exist.

    ``in_shared_transaction``: the caller's transaction holds several
    placements (a batch's, on PostgreSQL): the one statement runs without a
    savepoint of its own, and a database error propagates for the caller to
    roll back the whole transaction (a refusal, a DomainError, leaves it
    usable).
    """
    # Before the pair's checks: a replay is answered even on a halted pair.
    replay = _replay(user_id, pair, req)
    if replay is not None:
        return replay
    check_pair_accepts(pair, CommandKind.PLACE)
    _check_queue(pair)
    amount = hold_amount(pair, req)
    asset = pair.held_asset(req.side)
    # Each amount fits on its own (parse_units); price x size may not.
    check_units(
        amount, asset.scale, field="size" if req.side == "sell" else "price x size"
    )
    hold = BalanceChange(
        user_id, asset.pk, Wallet.SPOT, -amount, amount, LedgerReason.HOLD
    )
    try:
        placed = (
            place_in_one_statement(
                user_id, pair, req, hold, api_key, savepoint=not in_shared_transaction
            )
            if _place_in_one_statement()
            else None
        )
        if placed is not None:
            return PlaceResult(placed, False)
        order = place_general(user_id, pair, req, hold, api_key)
    except (IntegrityError, InsufficientFunds) as exc:
        if in_shared_transaction and isinstance(exc, IntegrityError):
            raise  # the transaction may be lost: the caller rolls it back whole
        # A request racing this one with the same client_order_id committed
        # first: its order took the id (unique constraint) or, where the hold
        # comes first (PostgreSQL's statement), its hold took the funds.
        # Either way the answer is that order, never a second one or an error.
        replay = _replay(user_id, pair, req)
        if replay is None:
            raise
        return replay
    return PlaceResult(order, False)


def placements_share_transaction() -> bool:
    """Whether several ``order_place`` calls may share one transaction
    (``in_shared_transaction``): where a placement is one statement that
    refuses short funds without an error (PostgreSQL)."""
    return _place_in_one_statement()


def _place_in_one_statement() -> bool:
    """Whether order_place writes the hold, the order and its command in ONE
    statement (``placement.place_in_one_statement``): on PostgreSQL, whose data-modifying CTEs make
    that possible; other databases take the general path."""
    return connection.vendor == "postgresql"


def order_wait(
    *, order: Order, timeout_s: float | None = None, until_final: bool = False
) -> Order:
    """Wait (bounded) for the matcher to process ``order``; returns it re-read."""
    timeout = (
        settings.ORDER_RESULT_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s
    )

    def processed() -> bool:
        # Only what the matcher changes: a full refresh would also drop the
        # cached pair (and its assets), costing three more queries to answer.
        order.refresh_from_db(fields=MATCHER_FIELDS)
        if until_final:
            return order.status in FINAL_STATUSES
        return order.status != OrderStatus.PENDING

    bus.wait_for(order.pk, processed, timeout)
    return order


def orders_wait(
    *, orders: list[Order], timeout_s: float | None = None, until_final: bool = False
) -> list[Order]:
    """``order_wait`` for several orders under one deadline, each re-read
    (``MATCHER_FIELDS``, one query per look for all of them); returns them.
    The same order may come more than once (each instance is updated)."""
    timeout = (
        settings.ORDER_RESULT_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s
    )
    by_pk: dict[int, list[Order]] = {}
    for order in orders:
        by_pk.setdefault(order.pk, []).append(order)

    def waits(order: Order) -> bool:
        if until_final:
            return order.status not in FINAL_STATUSES
        return order.status == OrderStatus.PENDING

    def still_waiting() -> set[int]:
        rows = Order.objects.filter(pk__in=list(by_pk)).values_list(
            "pk", *MATCHER_FIELDS
        )
        for pk, *values in rows:
            for order in by_pk[pk]:
                for name, value in zip(MATCHER_FIELDS, values, strict=True):
                    setattr(order, name, value)
        return {pk for pk, same in by_pk.items() if waits(same[0])}

    waiting = {pk for pk, same in by_pk.items() if waits(same[0])}
    if waiting:
        bus.wait_for_all(waiting, still_waiting, timeout)
    return orders
