"""Public market streams: the book (one snapshot, then deltas) and trades.

The events journal (MarketEvent, gap-free per-pair ``seq``, written in the
matcher's settlement transaction) is the truth. Each server process has ONE
``MarketHub`` per event loop: one journal reader for all its clients, which
reads each pair's new events once and fans them out in memory to the local
subscriptions. With Redis the hub also hears the matcher's channel-layer
publish (each event reaches each process once) and hands an event out at
once when it continues the pair's sequence; the journal fills any gap. The
embedded default (SQLite, no Redis) polls the journal every ``WS_POLL_MS``;
with Redis the poll is a safety net every ``WS_POLL_REDIS_MS``.

One book per pair per hub. When a pair's first subscriber joins, the hub
reads the pair's WHOLE book once (``orderbook_snapshot`` without a depth:
levels and sequence in one statement, one moment) into a ``HubBook``, and
its cursor starts at that snapshot's sequence; from then on it applies each
journal ``book`` event to that book, under the hub lock, before handing the
event out. Every book snapshot a subscriber gets (the first one, and any
after a resync) is cut from that memory at the hub's cursor: no database
read per subscriber, and a snapshot is consistent with the cursor because
the book and the cursor only move together, in ``_dispatch``, which does not
await. A subscription joins the hub (so every event after the cursor is
queued for it) before its task cuts its snapshot; queued events the snapshot
already holds (``seq <= snapshot seq``) are dropped.

Exact depth windows: at each book event the hub computes, once per depth
that some subscription uses, what the top ``depth`` levels per side saw
(``HubBook.apply``) and the window's checksum afterwards; each distinct
(depth, prev_seq) message is serialised once. An event that changes nothing
in a window sends nothing to it. Every book message carries ``prev_seq``,
the ``seq`` of the previous book message of that subscription: a client
proves continuity by chaining them, and the checksum proves the levels.
A subscription whose queue overflows (a client too slow to read) is told
(``resync``) and gets a fresh snapshot; others are never slowed by it. A
pair the hub cannot continue (the journal's sequence jumps, or an event
does not apply) is reloaded from the database and all its subscribers are
told (``resync``, ``sequence_reset``) and get fresh snapshots.

Hand-written rather than channels' groups: a group message costs a channel
write per subscriber, and the in-memory channel layer of the embedded
default cannot reach across processes; one reader per process fanning out
in memory is what both deployments need.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from apps.core.polling import poll_while_subscribed
from apps.markets import selectors, stream_feeds
from apps.markets.models import Pair
from apps.markets.publish import market_group
from apps.markets.selectors import BookSnapshot
from apps.markets.stream_book import Event, StreamBook
from apps.markets.stream_feeds_wire import is_feed
from apps.markets.stream_subscription import (
    SCENARIOS,
    Resync,
    Send,
    Subscription,
    WriteNow,
    subscription_scenario,
)
from apps.markets.stream_wire import BOOK_MAX_DEPTH, check_depth

__all__ = [
    "SCENARIOS",
    "Event",
    "MarketHub",
    "Resync",
    "Send",
    "Subscription",
    "WriteNow",
    "market_hub",
    "subscription_scenario",
    "subscription_start",
    "subscription_stop",
]

log = logging.getLogger(__name__)

JOURNAL_BATCH = 1000  # events read per pair per poll


def _events_after(pair_id: int, after: int, limit: int) -> list[Event]:
    return [
        Event(pair_id, seq, kind, payload)
        for seq, kind, payload in selectors.market_events_after(
            pair_id=pair_id, after=after, limit=limit
        )
    ]


class MarketHub:
    """The process's journal reader: one cursor and one ``StreamBook`` per
    pair that has subscribers, advanced only over consecutive sequences.

    With Redis it also listens to the pairs' channel-layer groups, where the
    matcher publishes each event after commit (apps/markets/publish.py): the
    pub/sub layer brings each event to each process once, and an event that
    continues the cursor is handed out at once, without a database read. One
    that does not (a message was lost, or came before the journal's) wakes
    the reader, which fills the gap from the journal: the messages are a
    fast path, the journal the truth."""

    def __init__(self, poll_s: float, layer: Any = None) -> None:
        self.poll_s = poll_s
        self.layer = layer
        self.subscribers: dict[int, set[Subscription]] = {}
        self.cursor: dict[int, int] = {}
        self.books: dict[int, StreamBook] = {}
        # Pairs whose next event could not be applied: reloaded by the reader.
        self.broken: set[int] = set()
        # Held while reading and dispatching, and while joining: a joiner's
        # starting point is exactly the cursor that the next read continues.
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self.listener: asyncio.Task[None] | None = None
        self.channel = ""
        self.wake = asyncio.Event()
        self.chores: set[asyncio.Task[Any]] = set()

    async def join(self, sub: Subscription) -> int:
        """Register ``sub``; it receives every event after the returned seq.
        The pair's first subscriber loads the pair's book (one read)."""
        async with self.lock:
            pair_id = sub.pair.pk
            if pair_id not in self.cursor:
                if self.layer is not None:
                    await self._listen(pair_id)
                snapshot = await _whole_book(sub.pair)
                # Set only once nothing else can fail: a stale cursor would
                # replay old events to the pair's next subscriber.
                self.books[pair_id] = StreamBook(sub.pair, snapshot)
                self.cursor[pair_id] = snapshot.sequence
            self.subscribers.setdefault(pair_id, set()).add(sub)
            if sub.channel == "book":
                self.books[pair_id].depths[sub.depth] += 1
            sub.hub = self
            if self.task is None or self.task.done():
                self.task = asyncio.get_running_loop().create_task(self._run())
            return self.cursor[pair_id]

    def book_snapshot(self, pair_id: int, depth: int) -> tuple[int, str]:
        """(seq, text) of a ``book_snapshot`` of the top ``depth`` levels at
        the hub's cursor, from memory. Every event after that seq is still to
        be handed to the pair's subscribers. KeyError for a pair the hub does
        not follow (no subscriber)."""
        seq = self.cursor[pair_id]
        return seq, self.books[pair_id].snapshot_text(depth, seq)

    async def _listen(self, pair_id: int) -> None:
        """Hear the pair's group; without it (Redis away) the reader polls."""
        try:
            if not self.channel:
                self.channel = await self.layer.new_channel("streams.")
            await self.layer.group_add(market_group(pair_id), self.channel)
        except Exception:  # noqa: BLE001 - the fast path only: the journal stays
            log.warning("market stream: cannot hear pair %s", pair_id, exc_info=True)
            return
        if self.listener is None or self.listener.done():
            self.listener = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
                await self.offer(
                    Event(
                        message["pair_id"],
                        message["seq"],
                        message["event"],
                        message["payload"],
                    )
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: the reader polls on
                log.warning(
                    "market stream: channel layer receive failed", exc_info=True
                )
                await asyncio.sleep(1)

    async def offer(self, event: Event) -> None:
        """An event published by the matcher: hand it out if it continues the
        pair's cursor; a later one means something is missing: read the
        journal now; an earlier one was already handed out from it."""
        async with self.lock:
            cursor = self.cursor.get(event.pair_id)
            if cursor is None or event.seq <= cursor:
                return
            if event.seq != cursor + 1 or not self._dispatch(event):
                self.wake.set()

    def leave(self, sub: Subscription) -> None:
        pair_id = sub.pair.pk
        subs = self.subscribers.get(pair_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        state = self.books.get(pair_id)
        if sub.channel == "book" and state is not None:
            state.depths[sub.depth] -= 1
            if state.depths[sub.depth] <= 0:
                del state.depths[sub.depth]
        if not subs:
            del self.subscribers[pair_id]
            self.cursor.pop(pair_id, None)
            self.books.pop(pair_id, None)
            self.broken.discard(pair_id)
            if self.layer is not None and self.channel:
                task = asyncio.get_running_loop().create_task(
                    self.layer.group_discard(market_group(pair_id), self.channel)
                )
                # Kept until done (the loop holds tasks weakly); its outcome is read.
                self.chores.add(task)
                task.add_done_callback(self._chore_done)

    def _chore_done(self, task: asyncio.Task[Any]) -> None:
        self.chores.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("market stream: %s", task.exception())

    async def _run(self) -> None:
        await poll_while_subscribed(self, "market stream")

    async def poll_once(self) -> None:
        read = database_sync_to_async(_events_after)
        async with self.lock:
            for pair_id in list(self.subscribers):
                if pair_id in self.broken:
                    await self._reload(pair_id, "sequence_reset")
                cursor = self.cursor.get(pair_id)
                if cursor is None:
                    continue  # its last subscriber left during an earlier read
                events = await read(pair_id, cursor, JOURNAL_BATCH)
                for event in events:
                    if pair_id not in self.cursor:
                        break  # the pair's last subscriber left meanwhile
                    if event.seq != self.cursor[pair_id] + 1:
                        # The journal skipped a seq: cannot happen with one
                        # writer per book; never skip it silently.
                        log.error(
                            "market stream: pair %s jumped from seq %s to %s",
                            pair_id,
                            self.cursor[pair_id],
                            event.seq,
                        )
                        await self._reload(pair_id, "sequence_reset")
                        break
                    if not self._dispatch(event):
                        await self._reload(pair_id, "sequence_reset")
                        break

    async def _reload(self, pair_id: int, reason: str) -> None:
        """Reload a pair the hub cannot continue from the database, then tell
        each subscriber (``resync`` with ``reason``; a book subscription
        then sends a fresh snapshot). Lock held."""
        state = self.books[pair_id]
        snapshot = await _whole_book(state.pair)
        if self.books.get(pair_id) is not state:
            return  # the pair's last subscriber left meanwhile
        state.reload(snapshot)
        self.cursor[pair_id] = snapshot.sequence
        self.broken.discard(pair_id)
        log.warning(
            "market stream: pair %s reloaded at seq %s (%s)",
            pair_id,
            snapshot.sequence,
            reason,
        )
        for sub in list(self.subscribers.get(pair_id, ())):
            sub.resync(reason)

    def _dispatch(self, event: Event) -> bool:
        """Apply the event that continues the pair's cursor to the pair's
        book and hand it out (lock held, no await: the book and the cursor
        move together). False for an event that does not apply: the pair is
        marked for a reload and nothing moved."""
        state = self.books[event.pair_id]
        if event.type == "book":
            try:
                state.apply(event)
            except Exception:  # noqa: BLE001 - a broken journal row: reload
                log.exception("market stream: event %s does not apply", event)
                self.broken.add(event.pair_id)
                return False
        self.cursor[event.pair_id] = event.seq
        state.snapshots.clear()
        for sub in list(self.subscribers.get(event.pair_id, ())):
            sub.deliver(event)
        return True


async def _whole_book(pair: Pair) -> BookSnapshot:
    return await database_sync_to_async(selectors.orderbook_snapshot)(
        pair=pair, depth=None
    )


_hubs: dict[asyncio.AbstractEventLoop, MarketHub] = {}


def market_hub() -> MarketHub:
    """This event loop's hub (daphne runs one loop per process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        layer = get_channel_layer() if settings.REDIS_URL else None
        # With Redis the events come by pub/sub, and a gap wakes the reader
        # at once: its poll only catches a lost last message, and each poll
        # holds the hub (and so the events that arrive) for a read.
        poll_ms = settings.WS_POLL_REDIS_MS if layer else settings.WS_POLL_MS
        hub = _hubs[loop] = MarketHub(poll_ms / 1000, layer)
    return hub


async def subscription_start(
    *,
    channel: str,
    symbol: str,
    depth: int,
    send: Send,
    max_depth: int = BOOK_MAX_DEPTH,
    write_now: WriteNow | None = None,
) -> Subscription:
    """Join the hub, then start sending (snapshot first, for the book).
    ``max_depth`` is the caller's allowance (VALIDATION_ERROR past it): the
    public 100, or ``BOOK_MAX_DEPTH_VERIFIED`` for a verified account."""
    if channel == "book":
        check_depth(depth, max_depth)
    pair = await database_sync_to_async(selectors.pair_get)(symbol=symbol)
    sub = Subscription(channel, pair, depth, send, write_now=write_now)
    if is_feed(channel):  # one shared feed per pair (and interval) joins the hub
        await stream_feeds.feed_join(sub, market_hub())
    else:
        sub.last_seq = await market_hub().join(sub)
    sub.task = asyncio.get_running_loop().create_task(sub.run())
    return sub


def subscription_stop(sub: Subscription) -> None:
    if is_feed(sub.channel):
        stream_feeds.feed_leave(sub)
    else:
        market_hub().leave(sub)
    if sub.task is not None:
        sub.task.cancel()
