"""Order placement's sandbox scenarios (``X-Sandbox-Scenario`` on
``POST /v1/orders``; the header is read in ``apps.core.scenarios``).

- ``reject_insufficient_funds``: the order is validated, then refused as if
  the balance were too low; nothing is held or placed.
- ``partial_fill``: just before the order, the house liquidity account rests
  a counter-order for half its size (rounded down to the lot) at its limit
  price, through the normal order path and matcher, funded by a faucet
  ledger entry. Arriving first on the pair's queue, it is on the book when
  the order comes, so an order priced strictly inside the spread fills
  exactly that half. Prices not strictly inside the spread are refused, since
  other orders would take part and the fill would no longer be known.
- ``execution_unknown``: the order is placed and processed as usual, but the
  answer is 504 SYSTEM_EXECUTION_UNKNOWN; the client reconciles by its
  client_order_id (required), e.g. by resending it: a resend replays the
  order normally (200, Idempotent-Replayed).

Sandbox only: each function raises RuntimeError elsewhere.
"""

from __future__ import annotations

import dataclasses
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min

from apps.accounts.errors import InsufficientFunds
from apps.accounts.models import LedgerReason, Wallet
from apps.accounts.sandbox import sandbox_house_user
from apps.accounts.services import balance_deposit
from apps.core import scenarios
from apps.core.errors import DomainError, ErrorCode
from apps.core.money import format_units
from apps.markets.models import Pair
from apps.orders import services
from apps.orders.models import Order, OrderStatus, OrderType, Side, TimeInForce
from apps.orders.validation import OrderRequest


def _require_sandbox() -> None:
    if not scenarios.scenarios_enabled():
        raise RuntimeError(f"sandbox scenarios do not run in {settings.EXCHANGE_ENV}")


def before_place(*, scenario: str, pair: Pair, req: OrderRequest) -> None:
    """What a scenario does between validation and placement: refuse
    (``reject_insufficient_funds``), check its preconditions
    (``execution_unknown``) or rest the house's counter-order
    (``partial_fill``)."""
    _require_sandbox()
    if scenario == scenarios.REJECT_INSUFFICIENT_FUNDS:
        asset = pair.held_asset(req.side)
        raise InsufficientFunds(
            f"Sandbox scenario {scenario}: available {asset.code} is too low.",
            details={
                "asset_id": asset.pk,
                "asset": asset.code,
                "wallet": Wallet.SPOT,
                "scenario": scenario,
            },
        )
    if scenario == scenarios.EXECUTION_UNKNOWN and not req.client_order_id:
        raise scenarios.invalid_scenario(
            "execution_unknown needs a client_order_id: it is how you find the "
            "order whose answer was lost.",
            scenario=scenario,
        )
    if scenario == scenarios.PARTIAL_FILL:
        house_counter_order(pair=pair, req=req)


def execution_unknown(*, order: Order) -> DomainError:
    """The answer of ``execution_unknown`` for a placed order."""
    return DomainError(
        "Sandbox scenario execution_unknown: the order's outcome is unknown "
        "(timed out). Look it up by client_order_id, or resend it with the same "
        "client_order_id.",
        code=ErrorCode.SYSTEM_EXECUTION_UNKNOWN,
        details={
            "scenario": scenarios.EXECUTION_UNKNOWN,
            "client_order_id": order.client_order_id,
        },
    )


def _best_prices(pair: Pair) -> tuple[int | None, int | None]:
    """Best resting bid and ask (ticks) of the pair, from the database."""
    resting = Order.objects.filter(
        pair=pair,
        type=OrderType.LIMIT,
        status__in=(OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED),
    )
    bid = resting.filter(side=Side.BUY).aggregate(p=Max("price"))["p"]
    ask = resting.filter(side=Side.SELL).aggregate(p=Min("price"))["p"]
    return bid, ask


def _refuse(message: str, **details: object) -> DomainError:
    return scenarios.invalid_scenario(
        message, scenario=scenarios.PARTIAL_FILL, **details
    )


def _house_size(pair: Pair, req: OrderRequest) -> int:
    """Half the order's size in lots, if that half is itself a valid order."""
    if (
        req.type != OrderType.LIMIT
        or req.post_only
        or req.time_in_force == TimeInForce.FOK
    ):
        raise _refuse("partial_fill takes a limit order, GTC or IOC, not post-only.")
    assert req.price is not None and req.size is not None
    half = req.size // 2
    notional = req.price * half * pair.quote_per_tick_lot
    if half < 1 or half * pair.lot_size < pair.min_size or notional < pair.min_notional:
        raise _refuse(
            "partial_fill needs a size of which half is still a valid order "
            f"(minimum size {format_units(pair.min_size, pair.base.scale)}).",
        )
    return half


def _price_text(pair: Pair, ticks: int | None) -> str | None:
    return (
        None
        if ticks is None
        else format_units(ticks * pair.tick_size, pair.quote.scale)
    )


def _check_inside_spread(pair: Pair, req: OrderRequest) -> None:
    bid, ask = _best_prices(pair)
    assert req.price is not None
    if (bid is not None and req.price <= bid) or (ask is not None and req.price >= ask):
        raise _refuse(
            "partial_fill needs a limit price strictly inside the spread, so "
            "that only the house's order trades with yours.",
            best_bid=_price_text(pair, bid),
            best_ask=_price_text(pair, ask),
        )


@transaction.atomic
def house_counter_order(*, pair: Pair, req: OrderRequest) -> Order:
    """Fund the house account (a faucet entry) and queue its resting
    counter-order for half of ``req`` at ``req``'s price. Locks the house's
    balance row of the held asset (deposit, then hold)."""
    _require_sandbox()
    size = _house_size(pair, req)
    _check_inside_spread(pair, req)
    house = sandbox_house_user()
    counter = dataclasses.replace(
        req,
        side=Side.SELL if req.side == Side.BUY else Side.BUY,
        time_in_force=TimeInForce.GTC,
        post_only=True,  # never takes: if the book moved, it is rejected
        size=size,
        client_order_id=f"house-{uuid.uuid4().hex[:30]}",
    )
    ref = f"scenario:{scenarios.PARTIAL_FILL}:{uuid.uuid4().hex}"
    balance_deposit(
        user=house,
        asset=pair.held_asset(counter.side),
        amount=services.hold_amount(pair, counter),
        reason=LedgerReason.FAUCET,
        ref=ref,
    )
    return services.order_place(user_id=house.pk, pair=pair, req=counter).order
