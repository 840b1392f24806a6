"""Events the engine emits, in the order things happened.

Events are immutable ``NamedTuple`` values: construction is several times
cheaper than a frozen dataclass, which matters on the hot path.  Equality is
strict on the event class (a ``Done`` never equals a ``Trade`` holding the
same numbers).

Lifecycle: an order gets either ``Rejected`` (never accepted) or ``Accepted``;
every order that leaves the engine gets exactly one ``Done`` carrying
``released = hold - spent``.  ``BookDelta`` events come last in a command's
list, one per price level the command changed, in first-touch order.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

from .reasons import DoneReason, Reason
from .types import OrderType, Side

_T = TypeVar("_T")


def _strict_eq(cls: type[_T]) -> type[_T]:
    """Make equality also compare the event class (plain tuples would not)."""

    def __eq__(self: tuple[Any, ...], other: object) -> bool:
        return type(self) is type(other) and tuple.__eq__(self, other)

    def __ne__(self: tuple[Any, ...], other: object) -> bool:
        return not (type(self) is type(other) and tuple.__eq__(self, other))

    # setattr: mypy rejects assigning methods on a class object.
    setattr(cls, "__eq__", __eq__)  # noqa: B010
    setattr(cls, "__ne__", __ne__)  # noqa: B010
    setattr(cls, "__hash__", tuple.__hash__)  # noqa: B010
    return cls


@_strict_eq
class Accepted(NamedTuple):
    """The order passed validation; it now matches, rests, or waits (stops)."""

    order_id: int
    account_id: int
    side: Side
    order_type: OrderType
    price: int | None
    size: int | None
    ts: int


@_strict_eq
class Rejected(NamedTuple):
    """The order was never accepted.  Followed by Done(REJECTED), except for
    DUPLICATE_ORDER_ID where the id belongs to a live order and no Done
    follows."""

    order_id: int
    account_id: int
    reason: Reason
    ts: int


@_strict_eq
class Trade(NamedTuple):
    """A fill.  ``quote`` = price * size * quote_per_tick_lot.  The buyer pays
    quote + its fee, the seller receives quote - its fee (fees may be negative
    for a maker rebate)."""

    maker_order_id: int
    taker_order_id: int
    maker_account_id: int
    taker_account_id: int
    price: int
    size: int
    quote: int
    maker_fee: int
    taker_fee: int
    taker_side: Side
    ts: int


@_strict_eq
class Cancelled(NamedTuple):
    """An accepted order's remainder was cancelled (``remaining_size`` is 0
    for a market buy by funds).  Always followed by the order's Done."""

    order_id: int
    account_id: int
    reason: Reason
    remaining_size: int
    ts: int


@_strict_eq
class Done(NamedTuple):
    """The order left the engine.  ``filled_quote`` is the notional sum,
    ``fee_total`` the net fee charged (negative for a net rebate),
    ``released`` = hold - spent, what goes back to available."""

    order_id: int
    account_id: int
    reason: DoneReason
    filled_size: int
    filled_quote: int
    fee_total: int
    released: int


@_strict_eq
class BookDelta(NamedTuple):
    """New total size of a price level; 0 means the level is gone."""

    side: Side
    price: int
    total_size: int


@_strict_eq
class StopTriggered(NamedTuple):
    """A stop order's trigger condition met at ``last_price``; it now enters
    the book as a market (STOP) or limit (STOP_LIMIT) order."""

    order_id: int
    account_id: int
    last_price: int
    ts: int


@_strict_eq
class CancelRejected(NamedTuple):
    """A CancelOrder failed (ORDER_NOT_FOUND: unknown, finished, or another
    account's order).  No order changed state, so no Done."""

    order_id: int
    account_id: int
    reason: Reason
    ts: int


@_strict_eq
class Amended(NamedTuple):
    """An AmendOrder applied: the order now has ``price``, total ``size`` and
    ``remaining_size``, and holds ``hold``; ``released`` (of its previous
    hold plus the amend's ``hold_add``) goes back to available.
    ``requeued``: it was cancel-replaced and lost its time priority (trades
    it makes at once, and its Done or resting, follow this event)."""

    order_id: int
    account_id: int
    price: int
    size: int
    remaining_size: int
    filled_size: int
    hold: int
    released: int
    requeued: bool
    ts: int


@_strict_eq
class AmendRejected(NamedTuple):
    """An AmendOrder failed; the order (if any) is unchanged and the amend's
    ``hold_add`` is ``released``. Reasons: ORDER_NOT_FOUND (unknown,
    finished, a stop, or another account's), INVALID_ORDER,
    SIZE_BELOW_FILLED, HOLD_EXHAUSTED, POST_ONLY_WOULD_TAKE."""

    order_id: int
    account_id: int
    reason: Reason
    released: int
    ts: int


Event = (
    Accepted
    | Rejected
    | Trade
    | Cancelled
    | Done
    | BookDelta
    | StopTriggered
    | CancelRejected
    | Amended
    | AmendRejected
)
