"""Value types shared by the matching engine: sides, order kinds, book config.

Units are fixed: prices are integer ticks, sizes are integer lots of the base
asset, money is integer minor units of the quote asset.  A fill of ``size`` lots
at ``price`` ticks is worth ``price * size * quote_per_tick_lot`` quote units.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, TypedDict

BPS = 10_000


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class Stp(StrEnum):
    """Self-trade prevention mode; the taker's mode decides."""

    CANCEL_NEWEST = "cancel_newest"
    CANCEL_OLDEST = "cancel_oldest"
    CANCEL_BOTH = "cancel_both"


class InvariantError(Exception):
    """A broken engine invariant: a bug, never a business rejection."""


@dataclass(frozen=True, slots=True)
class BookConfig:
    """Per-pair engine parameters.

    ``maker_fee_bps`` may be negative (a rebate) but never beyond the taker fee,
    so the exchange never pays out more than it collects on a trade.
    """

    quote_per_tick_lot: int
    maker_fee_bps: int
    taker_fee_bps: int
    price_band_bps: int

    def __post_init__(self) -> None:
        if self.quote_per_tick_lot < 1:
            raise ValueError("quote_per_tick_lot must be >= 1")
        if not 0 <= self.taker_fee_bps <= BPS:
            raise ValueError("taker_fee_bps must be in [0, 10000]")
        if not -self.taker_fee_bps <= self.maker_fee_bps <= BPS:
            raise ValueError("maker_fee_bps must be in [-taker_fee_bps, 10000]")
        if not 0 <= self.price_band_bps <= BPS:
            raise ValueError("price_band_bps must be in [0, 10000]")


class OpenOrder(NamedTuple):
    """Read-only snapshot of a resting order (see ``Engine.open_order``).

    The fields other than ``spent`` are exactly the keyword arguments of
    ``Engine.restore_resting``; ``spent`` is derived (buy: quote paid including
    fees, sell: lots sold) and never exceeds ``hold``.
    """

    order_id: int
    account_id: int
    side: Side
    price: int
    remaining_size: int
    hold: int
    ts: int
    stp: Stp
    filled_size: int
    taker_quote: int
    maker_quote: int
    fee_total: int
    spent: int

    def restore_kwargs(self) -> RestoreKwargs:
        """The keyword arguments that rebuild this order with restore_resting."""
        return RestoreKwargs(
            order_id=self.order_id,
            account_id=self.account_id,
            side=self.side,
            price=self.price,
            remaining_size=self.remaining_size,
            hold=self.hold,
            ts=self.ts,
            stp=self.stp,
            filled_size=self.filled_size,
            taker_quote=self.taker_quote,
            maker_quote=self.maker_quote,
            fee_total=self.fee_total,
        )


# Restated, not derived from OpenOrder: mypy reads a TypedDict's keys only from literal declarations.
class RestoreKwargs(TypedDict):
    """Keyword arguments of ``Engine.restore_resting``: ``OpenOrder``'s fields
    less ``spent`` (tests/matching/engine/test_restore_and_state.py keeps the
    three lists equal)."""

    order_id: int
    account_id: int
    side: Side
    price: int
    remaining_size: int
    hold: int
    ts: int
    stp: Stp
    filled_size: int
    taker_quote: int
    maker_quote: int
    fee_total: int
