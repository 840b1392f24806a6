"""A maker's layered quotes on a pair's grid, and the plan that moves them.

Pure Python (no Django, no I/O). Prices are integer ticks and sizes integer
lots here; ``Grid`` converts from the model's float price with a named
rounding (bids round down, asks up: a quote never crosses the reference it
was built from) and to the wire's decimal strings, never through a float.

``ladder`` builds the book a maker wants: ``levels`` prices a side, the touch
``half_spread`` ticks from the reference, the gaps between levels growing
away from it, and sizes growing by ``growth`` a level. ``plan`` compares it
with the orders the maker has and returns only the cancels and placements
needed: an order within its level's tolerance stays (the tolerance grows with
the distance from the touch, so a small move re-prices the inner levels and
leaves the outer ones resting), and cancels that would otherwise let a new
quote meet the maker's own order come first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

BUY, SELL = "buy", "sell"


@dataclass(frozen=True)
class Grid:
    """A pair's rules from ``GET /v1/markets``, as integers of minor units."""

    tick: Decimal  # quote per tick, e.g. Decimal("0.01")
    lot: Decimal  # base per lot
    min_size: Decimal
    min_notional: Decimal

    @classmethod
    def from_market(cls, market: dict[str, object]) -> Grid:
        return cls(
            Decimal(str(market["tick_size"])),
            Decimal(str(market["lot_size"])),
            Decimal(str(market["min_size"])),
            Decimal(str(market["min_notional"])),
        )

    def ticks(self, price: float, rounding: str) -> int:
        """The model's float price as ticks, rounded by ``rounding``
        (``ROUND_FLOOR`` for bids, ``ROUND_CEILING`` for asks)."""
        exact = Decimal(repr(price)) / self.tick
        return int(exact.to_integral_value(rounding=rounding))

    def lots(self, size: float) -> int:
        """A float size as whole lots, rounded down (never more than meant)."""
        exact = Decimal(repr(size)) / self.lot
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    def min_lots(self, price_ticks: int) -> int:
        """The fewest lots an order at ``price_ticks`` may have (min size and
        min notional)."""
        by_size = math.ceil(self.min_size / self.lot)
        notional = self.min_notional / (price_ticks * self.tick * self.lot)
        return max(by_size, int(notional.to_integral_value(rounding=ROUND_CEILING)))

    def price_str(self, ticks: int) -> str:
        return format(ticks * self.tick, "f")

    def size_str(self, lots: int) -> str:
        return format(lots * self.lot, "f")

    def to_price(self, ticks: int) -> float:
        return float(ticks * self.tick)

    def parse_price(self, text: str) -> int:
        """A wire price (decimal string) as ticks; it is on the grid."""
        return int(Decimal(text) / self.tick)

    def parse_size(self, text: str) -> int:
        return int(Decimal(text) / self.lot)


@dataclass(frozen=True)
class Quote:
    side: str
    price: int  # ticks
    size: int  # lots


@dataclass(frozen=True)
class Resting:
    """One of the maker's open orders, as the maker knows it."""

    order_id: str
    side: str
    price: int
    size: int  # remaining lots


@dataclass(frozen=True)
class LadderShape:
    """How a maker layers its quotes (see docs/sandbox.md)."""

    levels: int = 24
    gap_bps: float = 1.0  # the first gap between levels, in basis points
    gap_growth: float = 0.08  # each further gap grows by this fraction
    base_notional: float = 1_000.0  # touch size, in the quote asset
    growth: float = 1.12  # size ratio of one level to the next nearer one
    tolerance: float = 0.5  # of a level's gap: how far an order may drift


def ladder(
    grid: Grid,
    *,
    reference: float,
    half_spread_ticks: float,
    depth: float,
    shape: LadderShape,
    skew_ticks: int = 0,
) -> list[tuple[Quote, int]]:
    """The wanted quotes, each with its tolerance in ticks, nearest first and
    alternating bid/ask. ``skew_ticks`` shifts the whole ladder (a maker long
    inventory skews down to sell it)."""
    gap = max(1.0, reference * shape.gap_bps / 10_000 / float(grid.tick))
    half = max(0.5, half_spread_ticks)
    bid0 = grid.ticks(reference - half * float(grid.tick), ROUND_FLOOR) + skew_ticks
    ask0 = grid.ticks(reference + half * float(grid.tick), ROUND_CEILING) + skew_ticks
    if ask0 <= bid0:
        ask0 = bid0 + 1
    out: list[tuple[Quote, int]] = []
    offset = 0.0
    for k in range(shape.levels):
        step = gap * (1 + shape.gap_growth) ** (k - 1) if k else 0.0
        offset += step
        tol = max(0, int(shape.tolerance * gap * (1 + shape.gap_growth) ** k))
        tol = 0 if k == 0 else tol  # the touch is re-priced whenever it moves
        notional = shape.base_notional * depth * shape.growth**k
        for side, price in ((BUY, bid0 - round(offset)), (SELL, ask0 + round(offset))):
            if price <= 0:
                continue
            lots = max(grid.min_lots(price), grid.lots(notional / grid.to_price(price)))
            out.append((Quote(side, price, lots), tol))
    return out


@dataclass(frozen=True)
class Plan:
    cancels_first: list[str]  # would meet a new quote, or sit inside the touch
    places: list[Quote]  # nearest the touch first
    cancels_after: list[str]  # left over outer orders


def plan(wanted: list[tuple[Quote, int]], resting: list[Resting]) -> Plan:
    """The fewest actions that turn ``resting`` into ``wanted``, in a safe
    order: first cancel every order inside the new touch (a new quote could
    trade with it), then place missing quotes nearest first, then cancel the
    rest. An order keeps a wanted level when it is on the same side, within
    the level's tolerance, and has at least half the wanted size."""
    free = {r.order_id: r for r in resting}
    places: list[Quote] = []
    for quote, tol in wanted:
        match = _closest(free.values(), quote, tol)
        if match is None:
            places.append(quote)
        else:
            del free[match.order_id]
    best_bid = max((q.price for q, _ in wanted if q.side == BUY), default=None)
    best_ask = min((q.price for q, _ in wanted if q.side == SELL), default=None)
    first: list[str] = []
    after: list[str] = []
    for r in free.values():
        inside = (r.side == SELL and best_bid is not None and r.price <= best_bid) or (
            r.side == BUY and best_ask is not None and r.price >= best_ask
        )
        inner = (r.side == SELL and best_ask is not None and r.price < best_ask) or (
            r.side == BUY and best_bid is not None and r.price > best_bid
        )
        (first if inside or inner else after).append(r.order_id)
    return Plan(first, places, after)


def _closest(candidates: Iterable[Resting], quote: Quote, tol: int) -> Resting | None:
    best: Resting | None = None
    for r in candidates:
        if r.side != quote.side or abs(r.price - quote.price) > tol:
            continue
        if 2 * r.size < quote.size:
            continue
        if best is None or abs(r.price - quote.price) < abs(best.price - quote.price):
            best = r
    return best
