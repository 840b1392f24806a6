"""Shape checks for PlaceOrder (business rules only; types are trusted)."""

from __future__ import annotations

from .commands import PlaceOrder
from .types import OrderType, Side, Stp, TimeInForce

_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_STOP = OrderType.STOP
_STOP_LIMIT = OrderType.STOP_LIMIT
_GTC = TimeInForce.GTC
_FOK = TimeInForce.FOK
_BUY = Side.BUY


def is_valid(cmd: PlaceOrder) -> bool:
    """True if ``cmd`` has a coherent shape (see PlaceOrder's docstring)."""
    # Identity checks below rely on real enum members, not equal strings.
    if type(cmd.side) is not Side or type(cmd.tif) is not TimeInForce:
        return False
    if type(cmd.stp) is not Stp or cmd.hold < 0:
        return False
    if cmd.post_only and cmd.tif is not _GTC:
        return False
    kind = cmd.type
    if kind is _LIMIT or kind is _STOP_LIMIT:
        price = cmd.price
        size = cmd.size
        if price is None or size is None or price <= 0 or size <= 0:
            return False
        if cmd.funds is not None:
            return False
    elif kind is _MARKET or kind is _STOP:
        if cmd.price is not None or cmd.tif is _FOK or cmd.post_only:
            return False
        if cmd.size is not None:
            if cmd.size <= 0 or cmd.funds is not None:
                return False
        elif cmd.funds is None or cmd.funds <= 0 or cmd.side is not _BUY:
            return False
    else:
        return False
    sp = cmd.stop_price
    if kind is _STOP or kind is _STOP_LIMIT:
        return sp is not None and sp > 0
    return sp is None
