"""Pure-Python, deterministic, price-time priority matching engine.

No Django, no I/O, no clock, no floats: see docs/matching-engine.md.
"""

from .commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .engine import Engine
from .events import (
    Accepted,
    Amended,
    AmendRejected,
    BookDelta,
    Cancelled,
    CancelRejected,
    Done,
    Event,
    Rejected,
    StopTriggered,
    Trade,
)
from .fees import band_limit, buy_cover_needed, buy_limit_hold, fee_due
from .reasons import CANCEL_REQUESTED, DoneReason, Reason
from .types import (
    BookConfig,
    InvariantError,
    OpenOrder,
    OrderType,
    RestoreKwargs,
    Side,
    Stp,
    TimeInForce,
)

__all__ = [
    "CANCEL_REQUESTED",
    "Accepted",
    "AmendOrder",
    "AmendRejected",
    "Amended",
    "BookConfig",
    "BookDelta",
    "CancelOrder",
    "CancelRejected",
    "Cancelled",
    "Command",
    "Done",
    "DoneReason",
    "Engine",
    "Event",
    "InvariantError",
    "OpenOrder",
    "OrderType",
    "PlaceOrder",
    "Reason",
    "Rejected",
    "RestoreKwargs",
    "Side",
    "StopTriggered",
    "Stp",
    "TimeInForce",
    "Trade",
    "band_limit",
    "buy_cover_needed",
    "buy_limit_hold",
    "fee_due",
]
