"""Price levels and resting orders.  The book knows only limit orders.

Each side keeps ``levels`` (price -> Level) and ``keys``, a SortedList of
*signed* prices (``+price`` for asks, ``-price`` for bids) so that the best
level of either side is ``keys[0]`` and "price acceptable to a taker with
limit L" is ``key <= signed(L)``.  Within a level, a deque gives FIFO.

Cancels are lazy: a cancelled order stays in its deque with ``remaining = 0``
(no live order has 0 remaining; filled makers are popped at once) and is
skipped when reached; the level's ``total`` is reduced immediately and the
deque is compacted when dead entries dominate, so memory stays bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from .types import InvariantError, Side, Stp

_COMPACT_MIN_DEAD = 32


class Order:
    """Mutable engine-side order state (resting, or a taker being matched).

    ``cap`` bounds ``spent`` during matching (``min(funds, hold)`` for a market
    buy by funds, else ``hold``); ``spent`` is quote paid incl. fees for a buy,
    lots sold for a sell.
    """

    __slots__ = (
        "order_id",
        "account_id",
        "is_buy",
        "price",
        "remaining",
        "filled_size",
        "hold",
        "cap",
        "spent",
        "taker_quote",
        "maker_quote",
        "fee",
        "ts",
        "stp",
    )

    def __init__(
        self,
        order_id: int,
        account_id: int,
        is_buy: bool,
        price: int,
        remaining: int,
        hold: int,
        cap: int,
        ts: int,
        stp: Stp,
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.is_buy = is_buy
        self.price = price
        self.remaining = remaining
        self.filled_size = 0
        self.hold = hold
        self.cap = cap
        self.spent = 0
        self.taker_quote = 0
        self.maker_quote = 0
        self.fee = 0
        self.ts = ts
        self.stp = stp


class Level:
    """One price level: FIFO of orders, live total, count of dead entries."""

    __slots__ = ("price", "total", "dead", "orders")

    def __init__(self, price: int) -> None:
        self.price = price
        self.total = 0
        self.dead = 0
        self.orders: deque[Order] = deque()

    def live(self) -> Iterator[Order]:
        """Live orders in FIFO (priority) order."""
        return (o for o in self.orders if o.remaining)


class BookSide:
    """All levels of one side."""

    __slots__ = ("side", "sign", "levels", "keys", "chunks")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.sign = 1 if side is Side.SELL else -1
        self.levels: dict[int, Level] = {}
        self.keys = SortedList()
        # SortedList's list of sorted sublists, mutated only in place for the
        # list's lifetime (sortedcontainers 2.4, pinned): ``chunks[0][0]`` is
        # the best key with no Python-level call.  check() verifies the alias.
        self.chunks: list[list[int]] = self.keys._lists

    def best(self) -> int | None:
        """Best price, or None if the side is empty."""
        chunks = self.chunks
        return chunks[0][0] * self.sign if chunks else None

    def add(self, o: Order) -> None:
        """Append ``o`` at the back of its price level (creating it)."""
        lvl = self.levels.get(o.price)
        if lvl is None:
            lvl = self.levels[o.price] = Level(o.price)
            self.keys.add(self.sign * o.price)
        lvl.orders.append(o)
        lvl.total += o.remaining

    def cancel(self, o: Order) -> None:
        """Remove live order ``o`` from its level (lazily)."""
        lvl = self.levels[o.price]
        lvl.total -= o.remaining
        o.remaining = 0
        if lvl.total == 0:
            del self.levels[o.price]
            self.keys.remove(self.sign * o.price)
            return
        lvl.dead += 1
        if lvl.dead > _COMPACT_MIN_DEAD and lvl.dead * 2 > len(lvl.orders):
            lvl.orders = deque(lvl.live())
            lvl.dead = 0

    def iter_levels(self) -> Iterator[Level]:
        """Levels from best to worst."""
        levels = self.levels
        sign = self.sign
        for key in self.keys:
            yield levels[key * sign]

    def depth(self, n: int) -> list[tuple[int, int]]:
        """Top ``n`` levels as (price, total_size), best first."""
        out: list[tuple[int, int]] = []
        for key in self.keys.islice(0, n):
            price = int(key) * self.sign
            out.append((price, self.levels[price].total))
        return out

    def check(self, index: dict[int, Order]) -> int:
        """Raise InvariantError on an inconsistency; return live order count."""
        if sorted(self.sign * p for p in self.levels) != list(self.keys):
            raise InvariantError(f"{self.side} keys differ from levels")
        if self.chunks is not self.keys._lists or self.best() != (
            self.keys[0] * self.sign if self.keys else None
        ):
            raise InvariantError(f"{self.side} best-key alias is stale")
        is_buy = self.side is Side.BUY
        count = 0
        for price, lvl in self.levels.items():
            total = dead = 0
            for o in lvl.orders:
                if o.remaining < 0:
                    raise InvariantError(f"order {o.order_id} negative remaining")
                if o.remaining == 0:
                    dead += 1
                    continue
                if o.price != price or o.is_buy is not is_buy:
                    raise InvariantError(f"order {o.order_id} in wrong level")
                if index.get(o.order_id) is not o:
                    raise InvariantError(f"order {o.order_id} not indexed")
                total += o.remaining
                count += 1
            if total != lvl.total or total <= 0 or dead != lvl.dead:
                raise InvariantError(f"{self.side} level {price} totals wrong")
        return count
