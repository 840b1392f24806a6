"""Public market streams: the book (one snapshot, then deltas) and trades.

The events journal (MarketEvent, gap-free per-pair ``seq``, written in the
matcher's settlement transaction) is the truth. Each server process has ONE
``MarketHub`` per event loop: one journal reader for all its clients, which
reads each pair's new events once and fans them out in memory to the local
subscriptions. With Redis the hub also hears the matcher's channel-layer
publish (each event reaches each process once) and hands an event out at
once when it continues the pair's sequence; the journal fills any gap. The
embedded default (SQLite, no Redis) polls the journal every ``WS_POLL_MS``.

A subscription joins the hub BEFORE it reads its snapshot, so every event
after the hub's cursor is queued for it; the snapshot is one statement
(``orderbook_snapshot``: levels and sequence of one moment), and queued
events it already contains (``seq <= snapshot seq``) are dropped. So
snapshot and deltas join without a gap or a duplicate while orders flow.
Every book message carries ``prev_seq``, the ``seq`` of the previous book
message of that subscription: a client proves continuity by chaining them.
A subscription whose queue overflows (a client too slow to read) is told
(``resync``) and gets a fresh snapshot; others are never slowed by it.

Hand-written rather than channels' groups: a group message costs a channel
write per subscriber, and the in-memory channel layer of the embedded
default cannot reach across processes; one reader per process fanning out
in memory is what both deployments need.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from apps.markets import selectors
from apps.markets.models import Pair
from apps.markets.publish import market_group
from apps.markets.stream_wire import (
    book_delta_message,
    book_snapshot_message,
    dumps,
    resync_message,
    trade_message,
)

log = logging.getLogger(__name__)

JOURNAL_BATCH = 1000  # events read per pair per poll
_RESYNC = object()  # queue sentinel: the subscription lost events


@dataclass(frozen=True)
class Event:
    """A journal event as the hub hands it out: ONE object shared by every
    subscription of the process, which also shares its wire text."""

    pair_id: int
    seq: int
    type: str
    payload: dict[str, Any]
    # Wire texts by prev_seq (None for a trade): each is serialised once per
    # process, not once per client; a book delta differs between
    # subscriptions only right after a snapshot.
    texts: dict[int | None, str] = field(
        default_factory=dict, compare=False, repr=False
    )

    def text(self, pair: Pair, prev_seq: int | None) -> str:
        """The event's message as sent (a book delta chained to ``prev_seq``,
        or a trade)."""
        text = self.texts.get(prev_seq)
        if text is None:
            message = (
                trade_message(pair, self.seq, self.payload)
                if prev_seq is None
                else book_delta_message(pair, self.seq, self.payload, prev_seq)
            )
            text = self.texts[prev_seq] = dumps(message)
        return text


def _events_after(pair_id: int, after: int, limit: int) -> list[Event]:
    return [
        Event(pair_id, seq, kind, payload)
        for seq, kind, payload in selectors.market_events_after(
            pair_id=pair_id, after=after, limit=limit
        )
    ]


class MarketHub:
    """The process's journal reader: one cursor per pair that has subscribers,
    advanced only over consecutive sequences.

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
        # Held while reading and dispatching, and while joining: a joiner's
        # starting point is exactly the cursor that the next read continues.
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self.listener: asyncio.Task[None] | None = None
        self.channel = ""
        self.wake = asyncio.Event()
        self.chores: set[asyncio.Task[Any]] = set()

    async def join(self, sub: Subscription) -> int:
        """Register ``sub``; it receives every event after the returned seq."""
        async with self.lock:
            pair_id = sub.pair.pk
            if pair_id not in self.cursor:
                if self.layer is not None:
                    await self._listen(pair_id)
                # Set only once nothing else can fail: a stale cursor would
                # replay old events to the pair's next subscriber.
                self.cursor[pair_id] = await database_sync_to_async(
                    selectors.market_event_last_seq
                )(pair_id=pair_id)
            self.subscribers.setdefault(pair_id, set()).add(sub)
            if self.task is None or self.task.done():
                self.task = asyncio.get_running_loop().create_task(self._run())
            return self.cursor[pair_id]

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
            if event.seq == cursor + 1:
                self._dispatch(event)
            else:
                self.wake.set()

    def leave(self, sub: Subscription) -> None:
        pair_id = sub.pair.pk
        subs = self.subscribers.get(pair_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[pair_id]
                self.cursor.pop(pair_id, None)
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
        while self.subscribers:
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001 - the database may be away: retry
                log.exception("market stream: reading the journal failed")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), self.poll_s)
            except TimeoutError:
                pass

    async def poll_once(self) -> None:
        read = database_sync_to_async(_events_after)
        async with self.lock:
            for pair_id in list(self.subscribers):
                cursor = self.cursor.get(pair_id)
                if cursor is None:
                    continue  # its last subscriber left during an earlier read
                events = await read(pair_id, cursor, JOURNAL_BATCH)
                for event in events:
                    if event.seq != self.cursor.get(pair_id, -2) + 1:
                        # Not yet visible (cannot happen with one writer per
                        # book, but never skip), or the pair's last subscriber
                        # left meanwhile: read again next time.
                        break
                    self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        """Hand out the event that continues the pair's cursor (lock held)."""
        self.cursor[event.pair_id] = event.seq
        for sub in list(self.subscribers.get(event.pair_id, ())):
            sub.deliver(event)


_hubs: dict[asyncio.AbstractEventLoop, MarketHub] = {}


def market_hub() -> MarketHub:
    """This event loop's hub (daphne runs one loop per process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        layer = get_channel_layer() if settings.REDIS_URL else None
        hub = _hubs[loop] = MarketHub(settings.WS_POLL_MS / 1000, layer)
    return hub


Send = Callable[[str], Awaitable[None]]  # sends one text frame


@dataclass(eq=False)
class Subscription:
    """One client's subscription to one (channel, pair)."""

    channel: str
    pair: Pair
    depth: int
    send: Send
    queue: asyncio.Queue[Any] = field(
        default_factory=lambda: asyncio.Queue(settings.WS_QUEUE_LIMIT)
    )
    last_seq: int = 0  # of the last message sent (the heartbeat shows it)
    task: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.pair.symbol)

    def deliver(self, event: Event) -> None:
        """From the hub: queue ``event``; on overflow drop the queue and mark
        a resync (never block the hub, so a slow client slows no other)."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_RESYNC)

    async def run(self) -> None:
        """Send the subscription's messages until cancelled. A failure (the
        database away for a snapshot, say) is announced as a resync and the
        subscription starts again: never left silently frozen."""
        while True:
            try:
                if self.channel == "book":
                    await self._run_book()
                else:
                    await self._run_trades()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - announced, then retried
                log.exception("market stream: %s %s failed", *self.key)
                await self.send(
                    dumps(resync_message(self.channel, self.pair, "server_error"))
                )
                await asyncio.sleep(1)

    async def _run_book(self) -> None:
        snapshot = database_sync_to_async(selectors.orderbook_snapshot)
        while True:
            book = await snapshot(pair=self.pair, depth=self.depth)
            self.last_seq = book.sequence
            await self.send(dumps(book_snapshot_message(self.pair, book)))
            while (event := await self.queue.get()) is not _RESYNC:
                if event.seq <= self.last_seq or event.type != "book":
                    continue  # in the snapshot already, or not a book change
                # last_seq first: a heartbeat built while this send waits
                # for the socket must not name an older seq than it follows.
                text = event.text(self.pair, self.last_seq)
                self.last_seq = event.seq
                await self.send(text)
            await self.send(dumps(resync_message("book", self.pair, "slow_consumer")))

    async def _run_trades(self) -> None:
        while True:
            event = await self.queue.get()
            if event is _RESYNC:
                await self.send(
                    dumps(resync_message("trades", self.pair, "slow_consumer"))
                )
                continue
            if event.type == "trade":
                self.last_seq = event.seq
                await self.send(event.text(self.pair, None))


async def subscription_start(
    *, channel: str, symbol: str, depth: int, send: Send
) -> Subscription:
    """Join the hub, then start sending (snapshot first, for the book)."""
    pair = await database_sync_to_async(selectors.pair_get)(symbol=symbol)
    sub = Subscription(channel, pair, depth, send)
    sub.last_seq = await market_hub().join(sub)
    sub.task = asyncio.get_running_loop().create_task(sub.run())
    return sub


def subscription_stop(sub: Subscription) -> None:
    market_hub().leave(sub)
    if sub.task is not None:
        sub.task.cancel()
