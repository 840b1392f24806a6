"""A client-side order book kept from the public WebSocket ``book`` channel
(pure: no Django, no sockets), as a client of the stream would keep it.

A ``book_snapshot`` replaces the levels; each ``book_delta`` must chain onto
the last book message received (its ``prev_seq`` is that message's ``seq``;
seqs are the pair's journal sequence, so they may jump over other events);
a ``resync`` drops the book until the snapshot that follows it. Every
snapshot and delta must carry the checksum of the top min(depth, 25) levels
per side after it (computed here independently of the server's code), and
the book never holds more than ``depth`` levels a side: the server sends
exactly the changes of the subscription's window.
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

Levels = list[list[str]]  # [[price, size], ...] as the REST order book gives them


class BookStreamError(AssertionError):
    """The stream broke the book channel's protocol."""


def is_zero(size: str) -> bool:
    return Decimal(size) == 0


def checksum(bids: Levels, asks: Levels, depth: int) -> int:
    """docs/websocket.md: CRC32 of "bid1 price:bid1 size:ask1 price:ask1
    size:bid2 price:..." over the top min(depth, 25) levels per side."""
    n = min(depth, 25)
    fields: list[str] = []
    for i in range(n):
        for levels in (bids, asks):
            if i < len(levels):
                fields += levels[i]
    return zlib.crc32(":".join(fields).encode())


class LocalBook:
    def __init__(self, pair: str, depth: int) -> None:
        self.pair = pair
        self.depth = depth
        self.seq: int | None = None
        self.bids: dict[str, str] = {}  # price -> size, strings as sent
        self.asks: dict[str, str] = {}
        self.awaiting_snapshot = True
        self.snapshots = 0
        self.deltas = 0
        self.resyncs = 0
        self.checksums = 0  # verified

    def apply(self, msg: dict[str, Any]) -> None:
        """Apply one message of the book channel (snapshot, delta or resync)."""
        kind = msg.get("type")
        if msg.get("channel") != "book" or msg.get("pair") != self.pair:
            raise BookStreamError(f"not a {self.pair} book message: {msg}")
        if kind == "book_snapshot":
            self._snapshot(msg)
        elif kind == "book_delta":
            self._delta(msg)
        elif kind == "resync":
            if not isinstance(msg.get("reason"), str):
                raise BookStreamError(f"resync without a reason: {msg}")
            self.awaiting_snapshot = True
            self.resyncs += 1
        else:
            raise BookStreamError(f"unexpected book message: {msg}")

    def _snapshot(self, msg: dict[str, Any]) -> None:
        if not self.awaiting_snapshot:
            raise BookStreamError(
                f"a second book_snapshot without a resync before it: {msg}"
            )
        seq, bids, asks = msg["seq"], msg["bids"], msg["asks"]
        if not isinstance(seq, int) or seq < 0:
            raise BookStreamError(f"snapshot seq is not an int >= 0: {msg}")
        for name, levels, descending in (("bids", bids, True), ("asks", asks, False)):
            if len(levels) > self.depth:
                raise BookStreamError(
                    f"snapshot has {len(levels)} {name}, more than depth {self.depth}"
                )
            prices = [Decimal(price) for price, _ in levels]
            if prices != sorted(prices, reverse=descending) or len(set(prices)) != len(
                prices
            ):
                raise BookStreamError(
                    f"snapshot {name} are not in book order: {levels}"
                )
            if any(Decimal(size) <= 0 for _, size in levels):
                raise BookStreamError(f"snapshot {name} has an empty level: {levels}")
        self.bids = {price: size for price, size in bids}
        self.asks = {price: size for price, size in asks}
        self.seq = seq
        self.awaiting_snapshot = False
        self.snapshots += 1
        self._check_uncrossed(msg)
        self._check_sum(msg)

    def _delta(self, msg: dict[str, Any]) -> None:
        if self.awaiting_snapshot:
            raise BookStreamError(f"book_delta before its snapshot: {msg}")
        seq, prev_seq = msg["seq"], msg["prev_seq"]
        if prev_seq != self.seq:
            raise BookStreamError(
                f"broken chain: prev_seq {prev_seq} but the last book message "
                f"had seq {self.seq}: {msg}"
            )
        if not isinstance(seq, int) or seq <= prev_seq:
            raise BookStreamError(f"delta seq {seq} not after prev_seq {prev_seq}")
        if not msg["changes"]:
            raise BookStreamError(f"delta without changes: {msg}")
        for side, price, size in msg["changes"]:
            if side not in ("buy", "sell"):
                raise BookStreamError(f"change on side {side!r}: {msg}")
            levels = self.bids if side == "buy" else self.asks
            Decimal(price)  # a decimal string, or this raises
            if is_zero(size):
                levels.pop(price, None)
            else:
                if Decimal(size) < 0:
                    raise BookStreamError(f"negative size: {msg}")
                levels[price] = size
        self.seq = seq
        self.deltas += 1
        self._check_uncrossed(msg)
        for name, levels in (("bids", self.bids), ("asks", self.asks)):
            if len(levels) > self.depth:
                raise BookStreamError(
                    f"{len(levels)} {name} after seq {seq}, more than depth "
                    f"{self.depth}: a level left the window without a size 0"
                )
        self._check_sum(msg)

    def _check_sum(self, msg: dict[str, Any]) -> None:
        sent = msg.get("checksum")
        if not isinstance(sent, int) or isinstance(sent, bool):
            raise BookStreamError(f"no integer checksum: {msg}")
        top = self.levels(self.depth)
        mine = checksum(top["bids"], top["asks"], self.depth)
        if sent != mine:
            raise BookStreamError(
                f"checksum {sent} after {msg['type']} seq {msg['seq']}, "
                f"the local book's is {mine}: {top}"
            )
        self.checksums += 1

    def _check_uncrossed(self, msg: dict[str, Any]) -> None:
        if self.bids and self.asks:
            best_bid = max(map(Decimal, self.bids))
            best_ask = min(map(Decimal, self.asks))
            if best_bid >= best_ask:
                raise BookStreamError(
                    f"crossed book after {msg['type']} seq {msg['seq']}: "
                    f"bid {best_bid} >= ask {best_ask}"
                )

    def levels(self, depth: int | None = None) -> dict[str, Levels]:
        """Both sides in the REST order book's shape: bids high -> low, asks
        low -> high, at most ``depth`` levels each."""
        bids = sorted(self.bids.items(), key=lambda kv: Decimal(kv[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda kv: Decimal(kv[0]))
        return {
            "bids": [[p, s] for p, s in bids[:depth]],
            "asks": [[p, s] for p, s in asks[:depth]],
        }
