"""Why an order was rejected or cancelled, and how it ended.

The engine never raises for these: it emits them. They are outcomes of an
order the API already accepted, not error codes: the matcher stores the value
as the order's ``reject_reason`` (apps/matching/batch.py) and the API returns
it as the order's ``reason`` (apps/orders/api/serializers.py). No mapping to
the API's ``ORDER_*`` error codes exists, none is needed.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # Rejections (no Accepted event was emitted for the order).
    INVALID_ORDER = "invalid_order"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    # Rejections before acceptance, or cancellations after it (triggered stops).
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    NO_LIQUIDITY = "no_liquidity"
    # Cancellations of an accepted order's remainder.
    PRICE_BAND = "price_band"
    HOLD_EXHAUSTED = "hold_exhausted"
    SELF_TRADE = "self_trade"
    IOC_REMAINDER = "ioc_remainder"
    USER_CANCELLED = "user_cancelled"
    # The key's dead-man switch (cancel-all-after) expired: a cancel the user
    # asked for in advance, reported apart so they can tell it from their own.
    DEAD_MAN_SWITCH = "dead_man_switch"
    # The WebSocket session that placed it ended, and it had asked for
    # cancel-on-disconnect: reported apart for the same reason.
    CANCEL_ON_DISCONNECT = "cancel_on_disconnect"
    # Cancel and amend command failures (CancelRejected, AmendRejected).
    ORDER_NOT_FOUND = "order_not_found"
    # Amend failures (AmendRejected; also INVALID_ORDER, HOLD_EXHAUSTED,
    # POST_ONLY_WOULD_TAKE): the new size is not above what already filled.
    SIZE_BELOW_FILLED = "size_below_filled"


# The reasons a CancelOrder may carry: cancels someone asked for.
CANCEL_REQUESTED = frozenset(
    {Reason.USER_CANCELLED, Reason.DEAD_MAN_SWITCH, Reason.CANCEL_ON_DISCONNECT}
)


class DoneReason(StrEnum):
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
