"""One pair's whole aggregated order book as a streams hub keeps it in memory
(apps/markets/streams.py), and what each depth window sees of a change.

Pure: integers of the pair's grid (prices in ticks, sizes in lots, as the
selectors give them), no Django, no wire text; the hub formats. A depth-N
subscriber of the book channel follows only the top N levels per side, so
each journal ``book`` event is turned, once per process and per subscribed
depth, into exactly the changes of that window: levels that changed inside
it, levels that left it (sent with size 0) and levels that entered it (with
their whole size, e.g. level N+1 moving up when a top level empties).

Hand-written around ``sortedcontainers.SortedDict`` because no library
computes window differences; the arithmetic is in ``_window`` with its proof.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

from sortedcontainers import SortedDict  # type: ignore[import-untyped]

BUY = "buy"
SELL = "sell"
SIDES = (BUY, SELL)

Level = tuple[int, int]  # (price in ticks, size in lots)
Change = tuple[str, int, int]  # (side, price in ticks, new total in lots; 0 removes)


class HubBook:
    """Both sides of a pair's book, price -> total size.

    Each side is a ``SortedDict`` keyed best first: asks by price, bids by
    the negated price, so "rank k" is ``keys()[k]`` on either side and "at
    or better than" is ``<=`` on keys.
    """

    __slots__ = ("_sides",)

    def __init__(self, bids: Iterable[Level] = (), asks: Iterable[Level] = ()) -> None:
        self._sides: dict[str, SortedDict] = {
            BUY: SortedDict({-price: size for price, size in bids if size > 0}),
            SELL: SortedDict({price: size for price, size in asks if size > 0}),
        }

    def top(self, side: str, n: int) -> list[Level]:
        """The best ``n`` levels of ``side``, best first."""
        levels = self._sides[side]
        sign = -1 if side == BUY else 1
        return [(sign * key, levels[key]) for key in levels.islice(0, n)]

    def size(self, side: str, price: int) -> int:
        """The total resting at ``price`` on ``side`` (0 for no level)."""
        key = -price if side == BUY else price
        size: int = self._sides[side].get(key, 0)
        return size

    def depth(self, side: str) -> int:
        """How many levels ``side`` has."""
        return len(self._sides[side])

    def apply(
        self, changes: Iterable[Change], depths: Collection[int]
    ) -> dict[int, list[Change]]:
        """Apply one event's ``changes`` (each a level's new total; a price
        may repeat, the last one wins) and return, for each depth in
        ``depths``, the changes a window of the top ``depth`` levels per side
        saw: bids then asks, each best first; ``[]`` when the window did not
        change. Each depth >= 1."""
        final: dict[str, dict[int, int]] = {BUY: {}, SELL: {}}
        for side, price, size in changes:
            final[side][-price if side == BUY else price] = size
        seen: dict[int, list[Change]] = {depth: [] for depth in depths}
        for side in SIDES:
            if final[side]:
                for depth, window in self._apply_side(side, final[side], depths):
                    seen[depth].extend(window)
        return seen

    def _apply_side(
        self, side: str, final: dict[int, int], depths: Collection[int]
    ) -> Iterator[tuple[int, list[Change]]]:
        levels = self._sides[side]
        before = {key: levels.get(key, 0) for key in final}
        old_edges = {depth: _edge(levels, depth) for depth in depths}
        for key, size in final.items():
            if size > 0:
                levels[key] = size
            else:
                levels.pop(key, None)
        sign = -1 if side == BUY else 1
        for depth in depths:
            window = _window(
                levels, final, before, old_edges[depth], _edge(levels, depth)
            )
            yield depth, [(side, sign * key, size) for key, size in window]


def _edge(levels: SortedDict, depth: int) -> int | None:
    """The key of the window's last level, or None when the side has fewer
    than ``depth`` levels (the window is the whole side)."""
    return levels.keys()[depth - 1] if len(levels) >= depth else None


def _window(
    levels: SortedDict,
    final: dict[int, int],
    before: dict[int, int],
    old: int | None,
    new: int | None,
) -> list[tuple[int, int]]:
    """(key, size) a window sees, best first; size 0 = left the window.

    A level is in a window when it exists and its key is <= the window's
    edge (or the edge is None). A changed level is judged by its sizes and
    keys before and after. An unchanged level exists on both sides of the
    event with the same key, so it moved across the window only if the edge
    moved past it: when the edge went deeper (old < new, or new None: levels
    above were removed) the unchanged levels in (old, new] entered; when it
    went shallower (new < old, or old None: levels above were added) those in
    (new, old] left. Both cost O(log n + levels crossing), never a scan."""
    seen: list[tuple[int, int]] = []
    for key, size in final.items():
        was = before[key] > 0 and (old is None or key <= old)
        now = size > 0 and (new is None or key <= new)
        if now and (not was or before[key] != size):
            seen.append((key, size))
        elif was and not now:
            seen.append((key, 0))
    if old is not None and (new is None or old < new):
        crossing, entered = levels.irange(old, new, inclusive=(False, True)), True
    elif new is not None and (old is None or new < old):
        crossing, entered = levels.irange(new, old, inclusive=(False, True)), False
    else:
        crossing, entered = iter(()), False
    for key in crossing:
        if key not in final:
            seen.append((key, levels[key] if entered else 0))
    seen.sort()
    return seen
