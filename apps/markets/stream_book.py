"""What a streams hub shares between its subscriptions, per pair and per
event: the pair's book at the hub's cursor (``StreamBook``, over the pure
``HubBook``) with the snapshot texts cut from it, and each journal event
(``Event``) with what every subscribed depth window saw of it and the wire
texts made of that, each serialised once per process, never per client.
apps/markets/streams.py decides when; this module only computes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from apps.markets.hub_book import BUY, SELL, HubBook
from apps.markets.models import Pair
from apps.markets.selectors import BookSnapshot
from apps.markets.stream_wire import (
    CHECKSUM_DEPTH,
    book_checksum,
    book_delta_message,
    book_snapshot_message,
    change_from_wire,
    dumps,
    text_frame,
    trade_message,
    wire_changes,
)

# What one depth window saw of a book event: its changes as sent, and the
# window's checksum after it; None when the window did not change.
Window = tuple[list[list[str]], int] | None


@dataclass(frozen=True)
class Event:
    """A journal event as the hub hands it out: ONE object shared by every
    subscription of the process, which also shares its wire texts."""

    pair_id: int
    seq: int
    type: str
    payload: dict[str, Any]
    # A book event per subscribed depth (set by the hub when it applies it).
    windows: dict[int, Window] = field(default_factory=dict, compare=False, repr=False)
    # Wire texts, by (depth, prev_seq) for a book delta, None for a trade:
    # each is serialised once per process, not once per client; subscriptions
    # of one depth differ only in prev_seq, and only right after a snapshot.
    texts: dict[tuple[int, int] | None, str] = field(
        default_factory=dict, compare=False, repr=False
    )

    # The same texts as WebSocket frames (apps/orders/ws_guard/transport.py),
    # made once for the subscriptions that are written to directly.
    frames: dict[tuple[int, int] | None, bytes] = field(
        default_factory=dict, compare=False, repr=False
    )

    def frame(self, key: tuple[int, int] | None, text: str) -> bytes:
        """``text`` (this event's ``texts[key]``) as a frame, made once."""
        frame = self.frames.get(key)
        if frame is None:
            frame = self.frames[key] = text_frame(text.encode())
        return frame

    def trade_text(self, pair: Pair) -> str:
        """The trade's message as sent."""
        text = self.texts.get(None)
        if text is None:
            text = self.texts[None] = dumps(trade_message(pair, self.seq, self.payload))
        return text

    def book_text(self, pair: Pair, depth: int, prev_seq: int) -> str | None:
        """The book delta a depth-``depth`` subscription sends, chained to
        ``prev_seq``; None when the event left its window as it was. A depth
        the hub did not compute (KeyError) would be a broken invariant."""
        window = self.windows[depth]
        if window is None:
            return None
        key = (depth, prev_seq)
        text = self.texts.get(key)
        if text is None:
            changes, checksum = window
            message = book_delta_message(pair, self.seq, changes, prev_seq, checksum)
            text = self.texts[key] = dumps(message)
        return text


class StreamBook:
    """The hub's book of one pair at the hub's cursor, the depths its book
    subscriptions use, and the snapshot texts cut from it at that cursor.

    Each level's wire text ([price, size]) is kept beside the level, made
    when the level changes: a checksum or a snapshot is then lookups, where
    formatting 50 levels for each event's checksum was most of its cost."""

    def __init__(self, pair: Pair, snapshot: BookSnapshot) -> None:
        self.pair = pair
        self.depths: Counter[int] = Counter()
        self.snapshots: dict[int, str] = {}  # by depth; emptied at every event
        self.reload(snapshot)

    def reload(self, snapshot: BookSnapshot) -> None:
        """Start again from ``snapshot`` (every level of the pair)."""
        self.book = HubBook(snapshot.bids, snapshot.asks)
        self.texts: dict[str, dict[int, list[str]]] = {
            side: {p: self._text(p, s) for p, s in levels if s > 0}
            for side, levels in ((BUY, snapshot.bids), (SELL, snapshot.asks))
        }
        self.snapshots.clear()

    def _text(self, price: int, size: int) -> list[str]:
        return [self.pair.format_price(price), self.pair.format_size(size)]

    def top(self, side: str, n: int) -> list[list[str]]:
        """The best ``n`` levels of ``side`` as sent."""
        texts = self.texts[side]
        return [texts[price] for price, _ in self.book.top(side, n)]

    def snapshot_text(self, depth: int, seq: int) -> str:
        """The ``book_snapshot`` of the top ``depth`` levels (``seq`` is the
        hub's cursor: the caller keeps the two together)."""
        text = self.snapshots.get(depth)
        if text is None:
            message = book_snapshot_message(
                self.pair, seq, self.top(BUY, depth), self.top(SELL, depth)
            )
            text = self.snapshots[depth] = dumps(message)
        return text

    def apply(self, event: Event) -> None:
        """Apply a book event and record what each subscribed depth saw.
        Every change is parsed before anything moves: an event that does not
        parse raises and leaves the book as it was."""
        changes = [change_from_wire(self.pair, c) for c in event.payload["changes"]]
        seen = self.book.apply(changes, list(self.depths))
        for side, price, size in changes:  # in order: the last one wins
            if size > 0:
                self.texts[side][price] = self._text(price, size)
            else:
                self.texts[side].pop(price, None)
        checksums: dict[int, int] = {}  # by levels covered: most share 25
        for depth, window in seen.items():
            if not window:
                event.windows[depth] = None
                continue
            n = min(depth, CHECKSUM_DEPTH)
            if n not in checksums:
                checksums[n] = book_checksum(self.top(BUY, n), self.top(SELL, n))
            event.windows[depth] = (wire_changes(self.pair, window), checksums[n])
