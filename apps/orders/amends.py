"""Amends on the API side: validate, hold what an increase needs, queue.

Like a cancel, an amend is only queued here (an ``amend`` OrderCommand with
the new price and total size); the matcher applies it to its book in order
(docs/matching-engine.md, "Amend"): a smaller size at the same price shrinks
the order in place and keeps its time priority; anything else is an atomic
cancel-replace under the same order id that loses it. Funds an increase needs
are held here, in the transaction that queues the command, before the
matcher can apply it (the command owns them until then); whatever turns out
unneeded is released by the matcher, in its settlement transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.accounts.ledger import BalanceChange, balances_apply_in_transaction
from apps.accounts.models import LedgerReason, Wallet
from apps.core.errors import DomainError, ErrorCode
from apps.core.money import check_units
from apps.matching.engine.fees import buy_amend_hold
from apps.orders import bus
from apps.orders.models import (
    MATCHER_FIELDS,
    CommandKind,
    Order,
    OrderCommand,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from apps.orders.services import _check_queue, check_pair_accepts
from apps.orders.validation import _notional_too_small

# The matcher's command results for an amend it refused, and the code each
# becomes ("order_not_found" depends on how the order ended: ``refusal``).
REJECTED_CODES = {
    "rejected:size_below_filled": ErrorCode.ORDER_AMEND_SIZE_BELOW_FILLED,
    "rejected:post_only_would_take": ErrorCode.ORDER_POST_ONLY_WOULD_TAKE,
    "rejected:hold_exhausted": ErrorCode.ACCOUNT_INSUFFICIENT_FUNDS,
    "rejected:invalid_order": ErrorCode.ORDER_INVALID_PARAMETERS,
}


def refusal(order: Order) -> DomainError | None:
    """Why ``order`` cannot be amended in its current state, or None."""
    status = order.status
    code = None
    if status == OrderStatus.FILLED:
        code = ErrorCode.ORDER_ALREADY_FILLED
    elif status == OrderStatus.CANCELLED:
        code = ErrorCode.ORDER_ALREADY_CANCELLED
    elif (
        status == OrderStatus.REJECTED
        or order.time_in_force != TimeInForce.GTC
        or order.type not in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        or (order.type == OrderType.STOP_LIMIT and order.triggered_at is None)
    ):
        code = ErrorCode.ORDER_NOT_AMENDABLE
    if code is None:
        return None
    return DomainError(
        code=code,
        details={"order_id": str(order.uuid), "status": status, "type": order.type},
    )


def amend_hold_needed(order: Order, *, price: int, size: int) -> int:
    """What the order must hold in all (minor units of its held asset) for
    the amend to apply whatever it fills meanwhile: a sell its new total
    size; a buy the engine's bound ``buy_amend_hold``."""
    pair = order.pair
    if order.side == "sell":
        return size * pair.lot_size
    assert order.price is not None and order.size is not None
    return buy_amend_hold(
        order.filled_quote,
        price,
        size - order.filled_size,
        order.price,
        order.size - order.filled_size,
        pair.book_config(),
    )


def order_amend(
    *, order: Order, price: int | None = None, size: int | None = None
) -> OrderCommand:
    """Queue an amend of ``order`` to ``price`` (ticks) and total ``size``
    (lots), either None for unchanged, holding first what it may need on
    top of the order's hold.

    Locks the order's row, then (through the money service) the one balance
    row an increase holds; the hold and the command commit together or not
    at all. Under the order's lock it checks the row as it is now and that
    no other amend of it is queued: each amend's extra hold is computed
    against the hold the previous one left, so they go one at a time
    (ORDER_AMEND_PENDING). The matcher re-checks against its book, which
    may have moved on (fills). Raises ACCOUNT_INSUFFICIENT_FUNDS when the
    increase cannot be held."""
    pair = order.pair
    check_pair_accepts(pair, CommandKind.PLACE)
    _check_queue(pair)
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .select_related("pair__base", "pair__quote")
            .get(pk=order.pk)
        )
        price = order.price if price is None else price
        size = order.size if size is None else size
        _check_amendable(order, price, size)
        hold_add = _hold_add(order, price, size)
        if hold_add:
            asset = pair.held_asset(order.side)
            balances_apply_in_transaction(
                changes=[
                    BalanceChange(
                        order.user_id,
                        asset.pk,
                        Wallet.SPOT,
                        -hold_add,
                        hold_add,
                        LedgerReason.HOLD,
                        order_id=order.pk,
                    )
                ],
                now=timezone.now(),
                assets={asset.pk: asset},
            )
        command = OrderCommand.objects.create(
            pair=pair,
            kind=CommandKind.AMEND,
            order=order,
            amend_price=price,
            amend_size=size,
            hold_add=hold_add,
        )
        bus.wake_matcher(pair.pk)
    return command


def _check_amendable(order: Order, price: int | None, size: int | None) -> None:
    """Raise the code of an amend the locked ``order`` cannot take."""
    refused = refusal(order)
    if refused is not None or price is None or size is None:
        raise refused or DomainError(code=ErrorCode.ORDER_NOT_AMENDABLE)
    if price == order.price and size == order.size:
        raise DomainError(
            code=ErrorCode.ORDER_AMEND_NO_CHANGE,
            details={"order_id": str(order.uuid)},
        )
    if size <= order.filled_size:
        raise _below_filled(order)
    pair = order.pair
    notional = price * size * pair.quote_per_tick_lot
    if notional < pair.min_notional:
        raise _notional_too_small(pair, notional)
    queued = OrderCommand.objects.filter(
        order=order, kind=CommandKind.AMEND, processed_at__isnull=True
    )
    if queued.exists():
        raise DomainError(
            code=ErrorCode.ORDER_AMEND_PENDING,
            details={"order_id": str(order.uuid)},
        )


def _hold_add(order: Order, price: int, size: int) -> int:
    """What the amend holds on top of the order's hold (minor units)."""
    asset = order.pair.held_asset(order.side)
    needed = amend_hold_needed(order, price=price, size=size)
    check_units(
        needed, asset.scale, field="size" if order.side == "sell" else "price x size"
    )
    return max(needed - order.hold_amount, 0)


def _below_filled(order: Order) -> DomainError:
    return DomainError(
        code=ErrorCode.ORDER_AMEND_SIZE_BELOW_FILLED,
        details={
            "order_id": str(order.uuid),
            "filled_size": order.pair.format_size(order.filled_size),
        },
    )


def amend_wait(*, order: Order, command: OrderCommand, timeout_s: float) -> bool:
    """Wait (bounded) for the matcher to process ``command``; True if it
    did, and then raise the code of a refused amend. ``order`` is re-read."""

    def processed() -> bool:
        command.refresh_from_db(fields=["processed_at", "result"])
        return command.processed_at is not None

    if not bus.wait_for(order.pk, processed, timeout_s):
        return False
    order.refresh_from_db(fields=MATCHER_FIELDS)  # keeps the cached pair
    result = command.result
    if result == "amended":
        return True
    if result == "rejected:order_not_found":
        raise refusal(order) or DomainError(
            code=ErrorCode.ORDER_NOT_AMENDABLE,
            details={"order_id": str(order.uuid), "status": order.status},
        )
    if result == "rejected:size_below_filled":
        raise _below_filled(order)
    code = REJECTED_CODES.get(result, ErrorCode.SYSTEM_INTERNAL_ERROR)
    raise DomainError(code=code, details={"order_id": str(order.uuid)})
