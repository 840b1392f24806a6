"""Commands the engine accepts.  Ids and time come in with the command."""

from __future__ import annotations

from dataclasses import dataclass

from .reasons import Reason
from .types import OrderType, Side, Stp, TimeInForce


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceOrder:
    """Place an order (keyword-only fields).

    ``hold`` is what the API moved from available to held before the order
    reached the engine: quote minor units for a BUY, lots for a SELL.  The
    engine never spends more than ``hold`` and reports the rest as ``released``
    in the order's Done event.

    Shapes (anything else is rejected with INVALID_ORDER):

    * LIMIT: ``price`` and ``size``.
    * MARKET: ``size``, or (BUY only) ``funds`` = max quote to spend incl. fees.
      ``tif`` GTC or IOC (both mean immediate-or-cancel), not post-only.
    * STOP: like MARKET plus ``stop_price``.
    * STOP_LIMIT: like LIMIT plus ``stop_price``.
    * ``post_only`` only with GTC.
    """

    order_id: int
    account_id: int
    side: Side
    type: OrderType
    size: int | None = None
    price: int | None = None
    funds: int | None = None
    stop_price: int | None = None
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    stp: Stp = Stp.CANCEL_NEWEST
    hold: int
    ts: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel a resting order or an untriggered stop of ``account_id``.

    ``reason`` is what its ``Cancelled`` event reports: ``USER_CANCELLED``,
    ``DEAD_MAN_SWITCH`` when the key's cancel-all-after timer fired, or
    ``CANCEL_ON_DISCONNECT`` when the WebSocket session that placed it ended
    (one of ``CANCEL_REQUESTED``)."""

    order_id: int
    account_id: int
    ts: int
    reason: Reason = Reason.USER_CANCELLED


@dataclass(frozen=True, slots=True, kw_only=True)
class AmendOrder:
    """Change the limit ``price`` and total ``size`` (lots, fills included) of
    a resting order of ``account_id``.

    Same price and a smaller size: the order shrinks in place and keeps its
    time priority. Any other change is a cancel-replace under the same id,
    checked as a whole before the old order leaves the book (so a rejected
    amend leaves it untouched): the replacement may trade at once, then
    joins the back of its level.

    ``hold_add`` is what the API held for the amend on top of the order's
    hold (quote units for a BUY, lots for a SELL); ``post_only`` is the
    order's flag (the book does not keep it). The amended order's hold
    becomes exactly what its remainder needs; the rest is released.
    """

    order_id: int
    account_id: int
    price: int
    size: int
    hold_add: int = 0
    post_only: bool = False
    ts: int


Command = PlaceOrder | CancelOrder | AmendOrder
