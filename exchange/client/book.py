"""A local order book kept from the WebSocket ``book`` channel (pure: no socket,
no Django).

Prices and sizes stay the wire's decimal strings (``"63000.000000"``), exactly
as ``GET /v1/orderbook/{pair}`` gives them, so a local book compares equal to
the REST answer and nothing is rounded; levels are ordered by their
``Decimal`` value. Convert with ``Decimal(price)`` where you compute.

The continuity rule of docs/websocket.md: a ``book_snapshot`` starts a chain,
each ``book_delta`` must carry as ``prev_seq`` the ``seq`` of the last book
message applied, and every snapshot and delta carries the ``checksum`` of the
top min(depth, 25) levels per side after it. A delta that does not chain, a
checksum that differs from the local book's, or a crossed book means
something was missed: the book marks itself out of sync (``in_sync`` false,
``gaps`` counts it, ``checksum_failures`` the checksums among them) and
ignores deltas until the next snapshot. :class:`exchange.client.ws.MarketStream` then subscribes again to
get that snapshot. A ``resync`` from the server also waits for the snapshot
that follows it, but is not a gap: the server said so (``resyncs`` counts it).

``strict=True`` raises :class:`BookOutOfSync` instead of marking, for tests
that must prove no message was missed.
"""

from __future__ import annotations

import heapq
import zlib
from decimal import Decimal
from typing import Any

Level = tuple[str, str]  # (price, size), the wire's decimal strings
CHECKSUM_DEPTH = 25  # levels per side a message's checksum covers, at most


def book_checksum(bids: list[Level], asks: list[Level]) -> int:
    """CRC32 of "bid1 price:bid1 size:ask1 price:ask1 size:bid2 price:..."
    over the given levels (best first; a side that runs out is skipped), as
    docs/websocket.md defines it; 0 for an empty book."""
    fields: list[str] = []
    for i in range(max(len(bids), len(asks))):
        for levels in (bids, asks):
            if i < len(levels):
                fields.extend(levels[i])
    return zlib.crc32(":".join(fields).encode())


class BookOutOfSync(Exception):
    """A delta that does not chain onto the book, or a crossed book (strict)."""


class LocalBook:
    """One pair's book, from one subscription of the ``book`` channel.

    ``depth`` is the subscription's depth: the server sends exactly the
    changes of the top ``depth`` levels per side (a level leaving that window
    comes with size 0, one entering it with its size), so the book holds the
    exact top ``depth``; it is trimmed to that depth all the same.
    """

    def __init__(self, pair: str, depth: int = 100, *, strict: bool = False) -> None:
        self.pair = pair
        self.depth = depth
        self.strict = strict
        self.seq: int | None = None  # the seq of the last book message applied
        self.awaiting_snapshot = True
        self.snapshots = 0
        self.deltas = 0
        self.gaps = 0  # chain breaks and crossed books seen (not server resyncs)
        self.resyncs = 0  # ``resync`` messages from the server
        self.checksum_failures = 0  # checksums that differed (counted in gaps too)
        self.last_error = ""
        # price -> (Decimal price for ordering, size string)
        self._bids: dict[str, tuple[Decimal, str]] = {}
        self._asks: dict[str, tuple[Decimal, str]] = {}

    @property
    def in_sync(self) -> bool:
        """True once a snapshot is applied and every delta since chained."""
        return not self.awaiting_snapshot

    # -- applying messages ---------------------------------------------------

    def apply(self, msg: dict[str, Any]) -> bool:
        """Apply one book channel message; returns ``in_sync`` afterwards.

        A delta while out of sync is ignored (the snapshot will replace it
        all). Raises ``ValueError`` for a message of another pair or type, and
        ``BookOutOfSync`` for a gap only in strict mode.
        """
        kind = msg.get("type")
        if msg.get("pair") != self.pair:
            raise ValueError(f"not a {self.pair} book message: {msg}")
        if kind == "book_snapshot":
            self._snapshot(msg)
        elif kind == "book_delta":
            if not self.awaiting_snapshot:
                self._delta(msg)
        elif kind == "resync":
            self.resyncs += 1
            self.awaiting_snapshot = True
        else:
            raise ValueError(f"not a book channel message: {msg}")
        return self.in_sync

    def check_seq(self, seq: int) -> bool:
        """Compare a heartbeat's ``seq`` for this subscription to the last
        applied one: a difference is a gap even on a quiet book. Returns
        ``in_sync`` afterwards (a book awaiting its snapshot is not checked).
        """
        if not self.awaiting_snapshot and seq != self.seq:
            self._lose_sync(f"heartbeat says seq {seq}, last applied {self.seq}")
        return self.in_sync

    def _snapshot(self, msg: dict[str, Any]) -> None:
        self._bids = {p: (Decimal(p), s) for p, s in msg["bids"]}
        self._asks = {p: (Decimal(p), s) for p, s in msg["asks"]}
        self.seq = int(msg["seq"])
        self.awaiting_snapshot = False
        self.snapshots += 1
        self._settle(msg)

    def _delta(self, msg: dict[str, Any]) -> None:
        if msg["prev_seq"] != self.seq:
            self._lose_sync(
                f"prev_seq {msg['prev_seq']} but the last book message had "
                f"seq {self.seq}"
            )
            return
        for side, price, size in msg["changes"]:
            levels = self._bids if side == "buy" else self._asks
            if Decimal(size) == 0:
                levels.pop(price, None)
            else:
                levels[price] = (Decimal(price), size)
        self.seq = int(msg["seq"])
        self.deltas += 1
        self._settle(msg)

    def _settle(self, msg: dict[str, Any]) -> None:
        """After a snapshot or delta: trim each side to the depth, then check
        the book is uncrossed and its checksum is the server's (when the
        message carries one)."""
        for side, descending in ((self._bids, True), (self._asks, False)):
            if len(side) > self.depth:
                keep = self._top(side, self.depth, descending)
                for price in set(side) - {price for price, _ in keep}:
                    del side[price]
        self._check_uncrossed(msg)
        sent = msg.get("checksum")
        if sent is not None and not self.awaiting_snapshot:
            n = min(self.depth, CHECKSUM_DEPTH)
            mine = book_checksum(self.bids(n), self.asks(n))
            if mine != sent:
                self.checksum_failures += 1
                self._lose_sync(
                    f"checksum {sent} after seq {msg['seq']}, the local book's "
                    f"is {mine}"
                )

    def _check_uncrossed(self, msg: dict[str, Any]) -> None:
        if self._bids and self._asks:
            best_bid = max(price for price, _ in self._bids.values())
            best_ask = min(price for price, _ in self._asks.values())
            if best_bid >= best_ask:
                self._lose_sync(
                    f"crossed after seq {msg['seq']}: bid {best_bid} >= ask {best_ask}"
                )

    def _lose_sync(self, why: str) -> None:
        self.gaps += 1
        self.last_error = f"{self.pair} book out of sync: {why}"
        self.awaiting_snapshot = True
        if self.strict:
            raise BookOutOfSync(self.last_error)

    # -- reading -------------------------------------------------------------

    def bids(self, n: int | None = None) -> list[Level]:
        """The top ``n`` bids (default: the subscription's depth), high to low."""
        return self._top(self._bids, n, descending=True)

    def asks(self, n: int | None = None) -> list[Level]:
        """The top ``n`` asks (default: the subscription's depth), low to high."""
        return self._top(self._asks, n, descending=False)

    def levels(self, n: int | None = None) -> dict[str, list[list[str]]]:
        """Both sides in the shape of ``GET /v1/orderbook/{pair}``'s levels."""
        return {
            "bids": [list(level) for level in self.bids(n)],
            "asks": [list(level) for level in self.asks(n)],
        }

    def _top(
        self, side: dict[str, tuple[Decimal, str]], n: int | None, descending: bool
    ) -> list[Level]:
        n = self.depth if n is None else n
        pick = heapq.nlargest if descending else heapq.nsmallest
        best = pick(n, side.items(), key=lambda kv: kv[1][0])
        return [(price, size) for price, (_, size) in best]

    def __repr__(self) -> str:
        state = "in sync" if self.in_sync else "awaiting snapshot"
        return f"<LocalBook {self.pair} seq={self.seq} {state}>"
