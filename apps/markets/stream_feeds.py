"""The ``ticker`` and ``candles`` channels: one shared feed per pair (ticker)
and per pair and interval (candles) in each server process.

A feed is a member of the process's ``MarketHub`` like a subscription: the
hub hands it every journal event of its pair once, and the feed computes
its messages ONCE for all its subscribers (a message is one wire text,
shared), then queues them on each subscription, whose task sends them.
Clients cost no database read and no computation of their own.

- ticker: the numbers of ``GET /v1/ticker/{pair}``, read (in one snapshot:
  every figure as of one journal seq) when a trade happens or a book change
  touches the best bid or ask, at most once per ``WS_TICKER_MS``. A message
  goes out when its figures changed.
- candles: the last closed and the forming candle as ``GET /v1/candles``
  gives them, read once when the feed starts; then each trade event is
  folded into the forming candle in memory (``apps.markets.candles``), and
  a candle closes when a trade of a later bucket comes or, on a quiet
  market, when the clock passes the bucket's end by ``WS_CANDLE_CLOSE_MS``
  and the feed has every event the journal held by then (a timer per feed,
  not per client).

The journal stays the truth: a trade that arrives for a bucket already
closed (a matcher stalled past the grace) rebuilds the feed from the
database, announced to its clients as a ``resync``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings

from apps.core.middleware import now_ms
from apps.markets import selectors
from apps.markets.api.serializers import CandleOutputSerializer, TickerOutputSerializer
from apps.markets.candles import (
    INTERVALS,
    Candle,
    bucket_start,
    candle_fold,
    candles_roll,
)
from apps.markets.models import Pair
from apps.markets.selectors import TickerStats
from apps.markets.stream_feeds_wire import feed_resync_message
from apps.markets.stream_wire import dumps

if TYPE_CHECKING:
    from apps.markets.stream_book import Event
    from apps.markets.streams import MarketHub, Subscription

log = logging.getLogger(__name__)
RETRY_S = 1.0  # after a failed read (the database away)
# Events a feed keeps while it reads the database; past this (the database
# slow or away under a busy market) it forgets them and reads again.
PENDING_LIMIT = 10_000
_NOT_FIGURES = frozenset({"seq", "sequence", "server_time"})


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """A message as a feed queues it: its wire text, made once per process,
    and the journal seq it is as of (the heartbeat shows it)."""

    seq: int
    text: str


class Feed:
    """What both feeds share: hub membership (``pair``, ``channel``,
    ``deliver`` and ``resync``, as a subscription has them), subscribers, and
    the tasks to stop."""

    def __init__(self, hub: MarketHub, pair: Pair, key: str) -> None:
        self.hub, self.pair, self.channel = hub, pair, key
        self.subs: set[Subscription] = set()
        self.seq = 0  # the journal seq the feed's state is exactly as of
        self.opening: asyncio.Task[None] | None = None  # joining the hub
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False

    async def open(self) -> None:
        """Join the hub (every event after this reaches ``deliver``), then
        start the feed's own work."""
        await self.hub.join(self)
        if self.closed:  # its subscribers left while it joined
            self.hub.leave(self)
            return
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._supervised(w)) for w in self.work()]

    async def _supervised(self, work: Callable[[], Any]) -> None:
        """Run ``work`` for the feed's life; a bug in it is logged and the
        work starts again, never a feed silently stopped."""
        while True:
            try:
                await work()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged, then retried
                log.exception("%s %s: feed failed", self.channel, self.pair.symbol)
                await asyncio.sleep(RETRY_S)

    def work(self) -> list[Callable[[], Any]]:
        raise NotImplementedError

    def deliver(self, event: Event) -> None:
        """From the hub, with its lock held: never block, never raise."""
        raise NotImplementedError

    def resync(self, reason: str) -> None:
        """From the hub, which reloaded the pair and skipped events: start
        again from the database (lock held: never block, never raise)."""
        raise NotImplementedError

    def add(self, sub: Subscription) -> None:
        """A new subscriber: queue it the current state, if there is one."""
        raise NotImplementedError

    def replay(self, sub: Subscription) -> None:
        """After ``sub`` lost messages: queue it the current state again."""
        raise NotImplementedError

    def publish(
        self, messages: list[FeedMessage], subs: Iterable[Subscription] | None = None
    ) -> None:
        for sub in list(self.subs if subs is None else subs):
            for message in messages:
                sub.deliver(message)

    def close(self) -> None:
        self.closed = True
        self.hub.leave(self)
        for task in self.tasks:
            task.cancel()


# ----------------------------------------------------------------- messages
#
# The numbers are REST's by construction: a ``ticker`` message is the body of
# ``GET /v1/ticker/{pair}`` and a ``candle`` message one candle of
# ``GET /v1/candles/{pair}``, written by the very serializers of those
# endpoints, plus the stream's fields (``type``, ``channel``, ``seq``). A
# message is built once per process and shared by every subscriber, so the
# serializers' cost does not grow with the clients.


def ticker_message(pair: Pair, stats: TickerStats, server_time: int) -> dict[str, Any]:
    """REST's ticker body (``server_time`` ending its 24-hour window), with
    ``seq``: the journal seq the figures are exactly as of (the body's
    ``sequence`` too, when read in one snapshot)."""
    body = TickerOutputSerializer(
        {"pair": pair, "stats": stats, "server_time": server_time}
    ).data
    return {
        "type": "ticker",
        "channel": "ticker",
        "pair": pair.symbol,
        "seq": stats.book.sequence,
        **body,
    }


def candle_message(
    pair: Pair, interval: str, candle: Candle, seq: int
) -> dict[str, Any]:
    """One candle as REST lists it, with ``seq``: the journal seq it is
    exactly as of."""
    fields = CandleOutputSerializer(candle, context={"pair": pair}).data
    return {
        "type": "candle",
        "channel": "candles",
        "pair": pair.symbol,
        "interval": interval,
        "seq": seq,
        **fields,
    }


# ----------------------------------------------------------------- ticker


class TickerFeed(Feed):
    """A pair's ticker, read at most once per ``period`` seconds."""

    def __init__(self, hub: MarketHub, pair: Pair, key: str) -> None:
        super().__init__(hub, pair, key)
        self.period = settings.WS_TICKER_MS / 1000
        self.message: FeedMessage | None = None
        self.figures: dict[str, Any] | None = None  # the last message, less seqs
        self.bid: int | None = None  # best bid and ask in ticks, as of seq
        self.ask: int | None = None
        self.read_at = -math.inf  # event-loop time the last read began
        self.dirty = False  # something moved the ticker since the last read
        self.waiting: set[Subscription] = set()  # no message yet
        self.reading = True  # until the first read: events wait in pending
        self.pending: list[Event] = []
        self.wake = asyncio.Event()

    def work(self) -> list[Callable[[], Any]]:
        self.wake.set()  # the first read
        return [self._run]

    def deliver(self, event: Event) -> None:
        if event.seq <= self.seq:
            return
        if self.reading:
            if len(self.pending) < PENDING_LIMIT:
                self.pending.append(event)
            else:  # the read under way may miss it: read again after it
                self.dirty = True
        elif self._moves(event):
            self.dirty = True
            self.wake.set()

    def _moves(self, event: Event) -> bool:
        """A trade, or a book change at or better than the best bid or ask
        (as of ``seq``): the only events that change the ticker's figures."""
        if event.type == "trade":
            return True
        if event.type != "book":
            return False
        try:
            for side, price, _size in event.payload["changes"]:
                ticks = self.pair.parse_price(price)
                if side == "buy" and (self.bid is None or ticks >= self.bid):
                    return True
                if side == "sell" and (self.ask is None or ticks <= self.ask):
                    return True
        except (KeyError, TypeError, ValueError):
            return True  # cannot tell: read again
        return False

    def add(self, sub: Subscription) -> None:
        self.subs.add(sub)
        loop = asyncio.get_running_loop()
        fresh = self.message is not None and not self.dirty and not self.reading
        if fresh and loop.time() - self.read_at < self.period:
            sub.deliver(self.message)
        else:
            self.waiting.add(sub)
            self.wake.set()

    def replay(self, sub: Subscription) -> None:
        if self.message is not None:
            sub.deliver(self.message)

    def resync(self, reason: str) -> None:
        self.dirty = True  # read again; its message goes out if it moved
        self.wake.set()

    def close(self) -> None:
        super().close()
        self.subs.clear()
        self.waiting.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not (self.dirty or self.waiting or self.message is None):
                continue
            # The throttle: one read per period per pair in this process.
            delay = self.read_at + self.period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._read()

    async def _read(self) -> None:
        self.reading, self.dirty = True, False
        self.read_at = asyncio.get_running_loop().time()
        try:
            stats, server_time = await database_sync_to_async(
                selectors.ticker_get_exact
            )(pair=self.pair)
        except Exception:  # noqa: BLE001 - the database away: read again soon
            log.exception("ticker %s: read failed", self.pair.symbol)
            await asyncio.sleep(RETRY_S)
            self.dirty = True
            self.wake.set()
            return
        book = stats.book
        self.seq = book.sequence
        self.bid = book.bids[0][0] if book.bids else None
        self.ask = book.asks[0][0] if book.asks else None
        message = ticker_message(self.pair, stats, server_time)
        figures = {k: v for k, v in message.items() if k not in _NOT_FIGURES}
        self.message = FeedMessage(self.seq, dumps(message))
        # Everyone when the figures moved; else only those still waiting.
        changed = figures != self.figures
        self.figures = figures
        self.publish([self.message], self.subs if changed else self.waiting)
        self.waiting.clear()
        self.reading = False
        pending, self.pending = self.pending, []
        if any(e.seq > self.seq and self._moves(e) for e in pending):
            self.dirty = True
            self.wake.set()


# ----------------------------------------------------------------- candles


class CandleFeed(Feed):
    """A pair's forming candle of one interval, folded from trade events."""

    def __init__(self, hub: MarketHub, pair: Pair, key: str) -> None:
        super().__init__(hub, pair, key)
        self.interval = key.partition(":")[2]
        self.interval_ms = INTERVALS[self.interval]
        self.grace_ms = settings.WS_CANDLE_CLOSE_MS
        self.clock: Callable[[], int] = now_ms  # Unix ms (tests set it)
        self.forming: Candle | None = None  # None before the pair's first trade
        self.last_closed: Candle | None = None
        self.trade_seq = 0  # the last trade folded in
        self.ready = False  # until loaded: events wait in pending
        self.pending: list[Event] = []
        self.overflowed = False  # pending dropped: the read under way is too old
        self.loading: asyncio.Task[None] | None = None
        self.moved = asyncio.Event()  # the forming bucket or readiness changed
        self.caught_up = asyncio.Event()
        self.target = 0  # the clock close waits until seq reaches it
        self.flush: asyncio.Handle | None = None

    def work(self) -> list[Callable[[], Any]]:
        return [self._load, self._clock]

    # -- state and messages

    def _message(self, candle: Candle) -> FeedMessage:
        text = dumps(candle_message(self.pair, self.interval, candle, self.seq))
        return FeedMessage(self.seq, text)

    def _state(self) -> list[FeedMessage]:
        """The last closed candle, then the forming one (each if any)."""
        return [self._message(c) for c in (self.last_closed, self.forming) if c]

    def add(self, sub: Subscription) -> None:
        self.subs.add(sub)
        if self.ready:
            self.publish(self._state(), [sub])

    def replay(self, sub: Subscription) -> None:
        if self.ready:
            self.publish(self._state(), [sub])

    def _publish_forming(self) -> None:
        """Queue the forming candle once the current burst of events is
        folded (one message per burst, not one per trade of a batch)."""
        if self.flush is None:
            self.flush = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush = None
        if self.ready and self.forming is not None:
            self.publish([self._message(self.forming)])

    def _closed(self, closed: list[Candle]) -> None:
        if closed:
            self.last_closed = closed[-1]
            self.publish([self._message(c) for c in closed])
            self.moved.set()

    # -- events

    def deliver(self, event: Event) -> None:
        if not self.ready:
            if len(self.pending) >= PENDING_LIMIT:
                # Committed before the next read begins, so that read has them.
                self.pending.clear()
                self.overflowed = True
            self.pending.append(event)
            return
        try:
            closed, folded = self._apply(event)
        except Exception:  # noqa: BLE001 - a late trade, or a broken payload
            log.warning(
                "candles %s %s: rebuilding from the journal",
                self.pair.symbol,
                self.interval,
                exc_info=True,
            )
            self._rebuild()
            return
        self._closed(closed)
        if folded:
            self._publish_forming()

    def _apply(self, event: Event) -> tuple[list[Candle], bool]:
        """Fold ``event`` into the state: the candles it closed, and whether
        the forming candle changed. ``LateTrade`` for a closed bucket's."""
        if event.seq <= self.seq:
            return [], False  # in the state already
        self.seq = event.seq
        if self.seq >= self.target:
            self.caught_up.set()
        p = event.payload
        if event.type != "trade" or p["trade_seq"] <= self.trade_seq:
            return [], False
        price, size = self.pair.parse_price(p["price"]), self.pair.parse_size(p["size"])
        quote = price * size * self.pair.quote_per_tick_lot  # the engine's notional
        was = self.forming
        closed, self.forming = candle_fold(
            self.forming, (p["ts"], price, size, quote), self.interval_ms
        )
        self.trade_seq = p["trade_seq"]
        if was is None:
            self.moved.set()
        return closed, True

    # -- loading

    def resync(self, reason: str) -> None:
        self._rebuild(reason)

    def _rebuild(self, reason: str = "rebuild") -> None:
        """Start again from the database; the clients are told (``resync``
        with ``reason``)."""
        self.ready = False
        self.pending = []
        if self.flush is not None:
            self.flush.cancel()
            self.flush = None
        if self.loading is None or self.loading.done():
            reload = functools.partial(self._load, reason)
            self.loading = asyncio.get_running_loop().create_task(
                self._supervised(reload)
            )
            self.tasks.append(self.loading)

    async def _load(self, announce: str = "") -> None:
        """Read the last closed and the forming candle (REST's), fold the
        events that came meanwhile, then hand the state to every client."""
        read = database_sync_to_async(selectors.candles_now)
        while True:
            try:
                base = await read(pair=self.pair, interval_ms=self.interval_ms)
            except Exception:  # noqa: BLE001 - the database away: read again soon
                log.exception("candles %s: read failed", self.pair.symbol)
                await asyncio.sleep(RETRY_S)
                continue
            if self.overflowed:  # it may predate events dropped meanwhile
                self.overflowed = False
                continue
            candles = base.candles
            self.forming = candles[-1] if candles else None
            self.last_closed = candles[-2] if len(candles) > 1 else None
            self.seq, self.trade_seq = base.seq, base.trade_seq
            pending, self.pending = self.pending, []
            try:
                for event in pending:
                    closed, _ = self._apply(event)
                    if closed:
                        self.last_closed = closed[-1]
            except Exception:  # noqa: BLE001 - a late trade: read again
                log.warning("candles %s: reloading", self.pair.symbol, exc_info=True)
                continue
            break
        self.ready = True
        self.moved.set()
        if announce:
            resync = dumps(feed_resync_message(self.channel, self.pair, announce))
            self.publish([FeedMessage(self.seq, resync)])
        self.publish(self._state())

    # -- the clock

    async def _clock(self) -> None:
        """Close the forming candle when the clock passes its end (plus the
        grace), on a market that trades no more: one timer per feed."""
        while True:
            self.moved.clear()
            if not (self.ready and self.forming is not None):
                await self.moved.wait()
                continue
            end = self.forming.start + self.interval_ms
            delay = (end + self.grace_ms - self.clock()) / 1000
            if delay > 0:
                try:
                    await asyncio.wait_for(self.moved.wait(), delay)
                except TimeoutError:
                    pass
                continue
            await self._close_by_clock()

    async def _close_by_clock(self) -> None:
        """Wait until the feed holds every event the journal holds now (a
        trade stamped before the end may be committed but not yet handed
        out), then close every bucket that has ended."""
        try:
            last = await database_sync_to_async(selectors.market_event_last_seq)(
                pair_id=self.pair.pk
            )
        except Exception:  # noqa: BLE001 - the database away: try again soon
            log.exception("candles %s: journal read failed", self.pair.symbol)
            await asyncio.sleep(RETRY_S)
            return
        while self.ready and self.seq < last:
            self.target = last
            self.caught_up.clear()
            try:
                await asyncio.wait_for(self.caught_up.wait(), RETRY_S)
            except TimeoutError:
                pass
        if not self.ready or self.forming is None:
            return
        now_bucket = bucket_start(self.clock(), self.interval_ms)
        if now_bucket > self.forming.start:
            closed, self.forming = candles_roll(
                self.forming, now_bucket, self.interval_ms
            )
            self._closed(closed)
            self._publish_forming()


# ----------------------------------------------------------------- edges

# Per hub (one per event loop) and (pair id, channel key).
_feeds: dict[tuple[MarketHub, int, str], Feed] = {}
_feed_of: dict[Subscription, Feed] = {}


async def feed_join(sub: Subscription, hub: MarketHub) -> None:
    """Attach ``sub`` to its feed, starting the feed for the first one;
    the feed queues it the current state (or will once it has one)."""
    key = (hub, sub.pair.pk, sub.channel)
    while True:
        feed = _feeds.get(key)
        if feed is None:
            kind = TickerFeed if sub.channel == "ticker" else CandleFeed
            feed = _feeds[key] = kind(hub, sub.pair, sub.channel)
            feed.opening = asyncio.get_running_loop().create_task(feed.open())
        assert feed.opening is not None
        try:
            # Shielded: one client going away must not stop the others' feed.
            await asyncio.shield(feed.opening)
        except BaseException:
            if not feed.subs and _feeds.get(key) is feed:
                del _feeds[key]
                feed.close()
            raise
        if not feed.closed:  # else it failed for another joiner: start anew
            break
    feed.add(sub)
    _feed_of[sub] = feed


def feed_leave(sub: Subscription) -> None:
    """Detach ``sub``; the last subscriber's leaving stops the feed."""
    feed = _feed_of.pop(sub, None)
    if feed is None:
        return
    feed.subs.discard(sub)
    if isinstance(feed, TickerFeed):
        feed.waiting.discard(sub)
    if not feed.subs:
        key = (feed.hub, feed.pair.pk, feed.channel)
        if _feeds.get(key) is feed:
            del _feeds[key]
        feed.close()


async def feed_run(sub: Subscription) -> None:
    """A ticker or candles subscription's task: send what its feed queues;
    after an overflow (the hub's marker in the queue) announce a resync and
    send the feed's current state again."""
    while True:
        item = await sub.queue.get()
        if isinstance(item, FeedMessage):
            sub.last_seq = item.seq
            await sub.send(item.text)
            continue
        # The subscription's Resync marker (streams.py): the queue overflowed.
        reason = getattr(item, "reason", "slow_consumer")
        resync = feed_resync_message(sub.channel, sub.pair, reason)
        await sub.send(dumps(resync))
        feed = _feed_of.get(sub)
        if feed is not None:
            feed.replay(sub)
