"""Untriggered stop orders, beside the book (the book knows only limits).

The last trade price triggers: a BUY stop when ``last >= stop_price``, a SELL
stop when ``last <= stop_price``.  Among triggerable stops, buys go before
sells; within a side by trigger price (ascending for buys, descending for
sells, i.e. the ones the price crossed first), then by original ``ts``, then
by ``order_id``.  The engine pops one stop at a time and re-evaluates after
executing it, so triggers cascade deterministically within one command.
"""

from __future__ import annotations

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from .commands import PlaceOrder
from .types import InvariantError, Side


class StopBook:
    """Untriggered stops keyed for trigger order."""

    __slots__ = ("by_id", "_buys", "_sells")

    def __init__(self) -> None:
        self.by_id: dict[int, PlaceOrder] = {}
        # Keys: (signed stop price, ts, order_id); buys +sp, sells -sp, so the
        # next stop to trigger on each side is always at index 0.
        self._buys = SortedList()
        self._sells = SortedList()

    def __len__(self) -> int:
        return len(self.by_id)

    @staticmethod
    def _key(cmd: PlaceOrder) -> tuple[int, int, int]:
        assert cmd.stop_price is not None
        sp = cmd.stop_price if cmd.side is Side.BUY else -cmd.stop_price
        return (sp, cmd.ts, cmd.order_id)

    def add(self, cmd: PlaceOrder) -> None:
        """Store an untriggered stop."""
        self.by_id[cmd.order_id] = cmd
        (self._buys if cmd.side is Side.BUY else self._sells).add(self._key(cmd))

    def remove(self, order_id: int) -> PlaceOrder | None:
        """Remove and return the stop, or None if unknown."""
        cmd = self.by_id.pop(order_id, None)
        if cmd is not None:
            (self._buys if cmd.side is Side.BUY else self._sells).remove(self._key(cmd))
        return cmd

    def pop_triggered(self, last: int) -> PlaceOrder | None:
        """Remove and return the next stop triggered at ``last``, if any."""
        buys = self._buys
        if buys and buys[0][0] <= last:
            return self.by_id.pop(buys.pop(0)[2])
        sells = self._sells
        if sells and -sells[0][0] >= last:
            return self.by_id.pop(sells.pop(0)[2])
        return None

    def ordered(self) -> list[PlaceOrder]:
        """All stops, buys then sells, each in trigger order."""
        by_id = self.by_id
        return [by_id[k[2]] for k in self._buys] + [by_id[k[2]] for k in self._sells]

    def check(self) -> None:
        """Raise InvariantError if the keys and the id index disagree."""
        keys = set(self._buys) | set(self._sells)
        if len(keys) != len(self.by_id) or any(
            self._key(c) not in keys for c in self.by_id.values()
        ):
            raise InvariantError("stop book index inconsistent")
