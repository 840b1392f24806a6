"""A maker's layered quotes on a pair's grid, and the plan that moves them.

Pure Python (no Django, no I/O). Prices are integer ticks and sizes integer
lots here; ``Grid`` converts from the model's float price with a named
rounding (bids round down, asks up: a quote never crosses the reference it
was built from) and to the wire's decimal strings, never through a float.

``ladder`` builds the book a maker wants: ``levels`` prices a side, the touch
``half_spread`` ticks from the reference, the gaps between levels growing
away from it, and sizes growing by ``growth`` a level. ``plan`` compares it
with the orders the maker has and returns only the calls needed: an order
within its level's tolerance stays (the tolerance grows with the distance
from the touch, so a small move re-prices the inner levels and leaves the
outer ones resting); a stale order is amended to a missing quote of its side
(one call, where cancel + place took two, and the side keeps its depth
meanwhile), the orders a new quote could meet first; a side places only what
it lacks and cancels only what it has in excess.
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
    filled: int = 0  # lots filled so far


@dataclass(frozen=True)
class LadderShape:
    """How a maker layers its quotes (see docs/sandbox.md). 28 levels: the
    largest taker order, at the thinnest depth factor, sweeps at most 8 of
    them, so a side keeps 20 while the maker puts them back."""

    levels: int = 28
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
class Amend:
    """Move one resting order to a wanted quote (``POST /v1/orders/{id}/amend``):
    one call where a cancel and a place take two, and the side never lacks
    the level in between."""

    order_id: str
    quote: Quote
    filled: int  # lots the order has already filled (an amend's size counts them)

    @property
    def size(self) -> int:
        """The amend's total size: what filled plus the wanted remainder."""
        return self.filled + self.quote.size


@dataclass(frozen=True)
class Plan:
    amends_first: list[Amend]  # orders inside the new touch, moved out first
    cancels_first: list[str]  # such orders with no wanted quote to go to
    places: list[Quote]  # what a side lacks (fills took it), nearest first
    moves: list[Amend]  # the other stale orders, re-priced nearest first
    cancels_after: list[str]  # left over outer orders

    def actions(self) -> list[str | Amend | Quote]:
        """Every API call of the plan in a safe order: a cancel (an order
        id), an amend or a placement."""
        return [
            *self.amends_first,
            *self.cancels_first,
            *self.places,
            *self.moves,
            *self.cancels_after,
        ]

    def __len__(self) -> int:
        return len(self.actions())

    @property
    def amends(self) -> list[Amend]:
        return [*self.amends_first, *self.moves]


def plan(wanted: list[tuple[Quote, int]], resting: list[Resting]) -> Plan:
    """The fewest API calls that turn ``resting`` into ``wanted``, in a safe
    order. An order keeps a wanted level when it is on the same side, within
    the level's tolerance, and has at least half the wanted size. Every other
    order is stale, and moves by an amend to a missing quote of its side
    (re-pricing costs one call, not a cancel and a place); only a side with
    more stale orders than missing quotes cancels, and only one with fewer
    places.

    The order: first the stale orders inside the new touch (a new quote
    could meet one, or it would sit inside the spread) move out, deepest
    inside first, each to the nearest missing quote of its side, or are
    cancelled if there is none; then a side short of orders (fills took
    them) places the nearest of its other missing quotes, so depth and the
    touch come back before anything is merely re-priced; then the other
    stale orders move to the remaining quotes, nearest first; then the
    extra orders are cancelled. So between two calls a side never has fewer
    levels than it wants unless fills took them, and no call lets a new
    quote meet the maker's own order of the other side."""
    free = {r.order_id: r for r in resting}
    missing: list[Quote] = []
    for quote, tol in wanted:
        match = _closest(free.values(), quote, tol)
        if match is None:
            missing.append(quote)
        else:
            del free[match.order_id]
    best_bid = max((q.price for q, _ in wanted if q.side == BUY), default=None)
    best_ask = min((q.price for q, _ in wanted if q.side == SELL), default=None)

    def inside(r: Resting) -> int:
        """How many ticks ``r`` is inside the new touch (> 0: it must move)."""
        if r.side == SELL:
            return 0 if best_ask is None else best_ask - r.price
        return 0 if best_bid is None else r.price - best_bid

    amends_first: list[Amend] = []
    first: list[str] = []
    places: list[Quote] = []
    moves: list[Amend] = []
    after: list[str] = []
    for side in (BUY, SELL):
        todo = [q for q in missing if q.side == side]  # nearest first
        stale = sorted(
            (r for r in free.values() if r.side == side),
            key=lambda r: (-inside(r), r.order_id),
        )
        urgent = [r for r in stale if inside(r) > 0]
        calm = stale[len(urgent) :]
        n_urgent = min(len(urgent), len(todo))
        amends_first += [
            Amend(r.order_id, q, r.filled) for r, q in zip(urgent, todo, strict=False)
        ]
        first += [r.order_id for r in urgent[n_urgent:]]
        todo = todo[n_urgent:]
        n_places = max(0, len(todo) - len(calm))
        places += todo[:n_places]
        moves += [
            Amend(r.order_id, q, r.filled)
            for r, q in zip(calm, todo[n_places:], strict=False)
        ]
        after += [r.order_id for r in calm[len(todo) - n_places :]]
    rank = {q: i for i, (q, _) in enumerate(wanted)}  # nearest first, both sides
    amends_first.sort(key=lambda a: -inside(free[a.order_id]))
    places.sort(key=rank.__getitem__)
    moves.sort(key=lambda a: rank[a.quote])
    return Plan(amends_first, first, places, moves, after)


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
