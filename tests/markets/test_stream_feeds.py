"""The ticker and candles feeds in process: a real journal reader (MarketHub)
over events the real matcher (BatchProcessor) writes, a clock the test moves
(the matcher's stamps, the selectors' and REST's "now", the feeds' timer),
and the messages compared with REST and with candles built from the trades
table."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from apps.core.api.formats import from_unix_ms, unix_ms
from apps.core.errors import DomainError
from apps.markets import selectors, stream_feeds, stream_wire, streams
from apps.markets.api import views as market_views
from apps.markets.api.serializers import CandleOutputSerializer
from apps.markets.candles import build_candles
from apps.markets.models import MarketEvent
from apps.orders.models import Trade
from tests.helpers import place

pytestmark = pytest.mark.django_db(transaction=True)

M = 60_000
STREAM_ONLY = ("type", "channel", "pair", "interval", "seq")


class Clock:
    """Unix ms the test sets; everything that reads the time reads it."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def clock(monkeypatch) -> Clock:
    # A start of 5 minutes half an hour ago: buckets the test fills at will.
    now = Clock((time.time_ns() // 1_000_000 // (5 * M) - 6) * 5 * M)
    monkeypatch.setattr(timezone, "now", lambda: from_unix_ms(now.ms))
    monkeypatch.setattr(selectors, "now_ms", now)
    monkeypatch.setattr(market_views, "now_ms", now)
    return now


class Sent:
    """A subscription's socket: the messages it was sent, decoded."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, text: str) -> None:
        self.messages.append(json.loads(text))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


class Streams:
    """A hub, feeds and subscriptions in one event loop (one server
    process), driven by the test."""

    def __init__(self, pair, clock: Clock) -> None:
        self.pair, self.clock = pair, clock
        self.hub = streams.MarketHub(poll_s=0.01)
        self.subs: list[streams.Subscription] = []

    async def subscribe(self, key: str) -> Sent:
        sent = Sent()
        sub = streams.Subscription(key, self.pair, 0, sent)
        await stream_feeds.feed_join(sub, self.hub)
        feed = stream_feeds._feed_of[sub]
        if isinstance(feed, stream_feeds.CandleFeed):
            feed.clock = self.clock
        sub.task = asyncio.get_running_loop().create_task(sub.run())
        self.subs.append(sub)
        return sent

    async def settle(self) -> None:
        """Until the hub has handed out every journaled event, the feeds
        have read and the subscriptions have sent."""
        last = await database_sync_to_async(selectors.market_event_last_seq)(
            pair_id=self.pair.pk
        )
        for _ in range(500):
            if self.hub.cursor.get(self.pair.pk, 0) >= last:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)

    async def tick(self, ms: int) -> None:
        """Move the clock to ``ms`` and let the candle timers see it."""
        self.clock.ms = ms
        for feed in list(stream_feeds._feeds.values()):
            if isinstance(feed, stream_feeds.CandleFeed):
                feed.moved.set()
        await self.settle()

    async def close(self) -> None:
        for sub in self.subs:
            streams.subscription_stop(sub)
        if self.hub.task is not None:
            self.hub.task.cancel()
        await asyncio.sleep(0.02)
        assert stream_feeds._feeds == {} and self.hub.subscribers == {}


def run(pair, clock: Clock, scenario) -> None:
    async def main() -> None:
        s = Streams(pair, clock)
        try:
            await scenario(s)
        finally:
            await s.close()

    async_to_sync(main)()


def sync(fn, *args, **kwargs):
    return database_sync_to_async(fn)(*args, **kwargs)


def trade(pair, matcher, maker, taker, price: str, *sizes: str) -> None:
    """A resting sell of the sizes' sum, then one buy per size crossing it:
    len(sizes) trades, in one matcher batch."""
    total = sum(int(s.replace(".", "")) for s in sizes)  # 4-decimal sizes
    place(maker, pair, side="sell", price=price, size=f"{total / 10_000:.4f}")
    for size in sizes:
        place(taker, pair, side="buy", price=price, size=size)
    matcher()


def latest_per_bucket(sent: Sent) -> list[dict[str, Any]]:
    """The last candle message of each bucket, oldest first, as REST lists
    candles (the stream's own fields dropped)."""
    last: dict[int, dict[str, Any]] = {}
    for m in sent.of("candle"):
        last[m["start_ts"]] = {k: v for k, v in m.items() if k not in STREAM_ONLY}
    return [last[k] for k in sorted(last)]


def rest_candles(client, start: int) -> list[dict[str, Any]]:
    response = client.get(f"/v1/candles/BTC-USD?interval=1m&start={start}")
    assert response.status_code == 200, response.content
    return response.json()["candles"]


def candles_from_trades_table(pair, now: int) -> list[dict[str, Any]]:
    rows = [
        (unix_ms(t.created_at), t.price, t.size, t.quote)
        for t in Trade.objects.filter(pair=pair).order_by("seq")
    ]
    candles = build_candles(rows, interval_ms=M, start=0, end=now + 1, now=now)
    return CandleOutputSerializer(candles, many=True, context={"pair": pair}).data


# ------------------------------------------------------------------ reads


def test_one_snapshot_reads_one_state_and_never_blocks_the_matcher(btc_usd):
    MarketEvent.objects.create(pair=btc_usd, seq=1, type="book", payload={})
    inside, written, seen = threading.Event(), threading.Event(), []

    def reader() -> None:
        try:
            with selectors.one_snapshot():
                seen.append(selectors.market_event_last_seq(pair_id=btc_usd.pk))
                inside.set()
                written.wait(10)
                seen.append(selectors.market_event_last_seq(pair_id=btc_usd.pk))
            seen.append(selectors.market_event_last_seq(pair_id=btc_usd.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    assert inside.wait(10)
    started = time.monotonic()
    MarketEvent.objects.create(pair=btc_usd, seq=2, type="book", payload={})
    assert time.monotonic() - started < 2  # no lock held against the writer
    written.set()
    thread.join(10)
    assert seen == [1, 1, 2]  # the snapshot's state until it ends


# ------------------------------------------------------------------ requests


def test_candles_need_a_known_interval_and_are_keyed_by_it():
    for interval in (None, "2m", 60, ""):
        frame = {"channel": "candles", "pair": "BTC-USD", "interval": interval}
        with pytest.raises(DomainError) as exc:
            stream_wire.subscription_request(frame)
        assert exc.value.code == "VALIDATION_ERROR"
        assert exc.value.details["field"] == "interval"
    frame = {"channel": "candles", "pair": "BTC-USD", "interval": "5m"}
    assert stream_wire.subscription_request(frame) == ("candles:5m", "BTC-USD", 100)
    frame = {"channel": "ticker", "pair": "BTC-USD", "interval": "5m"}
    assert stream_wire.subscription_request(frame)[0] == "ticker"


# ------------------------------------------------------------------ candles


def test_candles_stream_equals_rest_and_the_trades_table_bucket_by_bucket(
    funded, alice, bob, matcher, clock, client, settings
):
    settings.WS_CANDLE_CLOSE_MS = 1_000
    t0 = clock.ms
    seen: dict[str, Any] = {}

    async def scenario(s: Streams) -> None:
        clock.ms = t0 + 5_000
        await sync(trade, funded, matcher, alice, bob, "63000", "0.0040")
        seen["seq"] = await sync(selectors.market_event_last_seq, pair_id=funded.pk)
        one = await s.subscribe("candles:1m")
        five = await s.subscribe("candles:5m")
        await s.settle()
        seen["first"] = list(one.messages)
        clock.ms = t0 + 20_000  # two trades in one batch
        await sync(trade, funded, matcher, bob, alice, "63010", "0.0010", "0.0020")
        await s.settle()
        clock.ms = t0 + 30_000
        await sync(trade, funded, matcher, alice, bob, "62990", "0.0030")
        await s.settle()
        seen["in_bucket"] = len(one.of("candle"))
        clock.ms = t0 + M + 3_000  # a trade of the next bucket closes t0's
        await sync(trade, funded, matcher, alice, bob, "63020", "0.0050")
        await s.settle()
        seen["by_trade"] = [(m["start_ts"], m["closed"]) for m in one.of("candle")]
        # A quiet market: the clock closes t0 + 1m, and t0 + 2m (empty).
        await s.tick(t0 + 2 * M + 900)  # within the grace: nothing yet
        seen["in_grace"] = len(one.of("candle"))
        await s.tick(t0 + 3 * M + 1_000)
        seen["one"], seen["five"] = one, five

    run(funded, clock, scenario)

    first = seen["first"]
    assert [(m["type"], m["start_ts"], m["closed"]) for m in first] == [
        ("candle", t0, False)
    ]
    assert first[0]["trades"] == 1 and first[0]["interval"] == "1m"
    assert first[0]["seq"] == seen["seq"]
    # Each batch's trades in one message: 1 + 2 batches.
    assert seen["in_bucket"] == 3
    assert seen["by_trade"][-2:] == [(t0, True), (t0 + M, False)]
    one, five = seen["one"], seen["five"]
    assert len(one.of("candle")) == seen["in_grace"] + 3
    tail = [(m["start_ts"], m["closed"], m["trades"]) for m in one.of("candle")[-3:]]
    assert tail == [(t0 + M, True, 1), (t0 + 2 * M, True, 0), (t0 + 3 * M, False, 0)]
    seqs = [m["seq"] for m in one.of("candle")]
    assert seqs == sorted(seqs)
    assert all(m["interval"] == "5m" for m in five.of("candle"))

    ws = latest_per_bucket(one)
    assert ws == rest_candles(client, t0)
    assert ws == candles_from_trades_table(funded, clock.ms)
    assert [c["trades"] for c in ws] == [4, 1, 0, 0]
    assert ws[2]["open"] == ws[2]["close"] == ws[1]["close"] == "63020.000000"
    assert ws[2]["volume"] == "0.00000000"
    five_rest = client.get(f"/v1/candles/BTC-USD?interval=5m&start={t0}").json()
    assert latest_per_bucket(five) == five_rest["candles"]


def test_a_new_subscriber_gets_the_last_closed_and_the_forming_candle_at_once(
    funded, alice, bob, matcher, clock, client, monkeypatch
):
    t0 = clock.ms
    seen: dict[str, Any] = {}

    async def scenario(s: Streams) -> None:
        clock.ms = t0 + 1_000
        await sync(trade, funded, matcher, alice, bob, "63000", "0.0040")
        early = await s.subscribe("candles:1m")
        await s.settle()
        clock.ms = t0 + M + 1_000
        await sync(trade, funded, matcher, alice, bob, "63100", "0.0010")
        await s.settle()
        reads = []
        real = selectors.candles_now
        monkeypatch.setattr(
            selectors, "candles_now", lambda **kw: reads.append(kw) or real(**kw)
        )
        late = await s.subscribe("candles:1m")  # the feed exists: no read
        await asyncio.sleep(0.05)
        seen.update(early=early, late=late, reads=reads)

    run(funded, clock, scenario)
    late = seen["late"].of("candle")
    assert [(m["start_ts"], m["closed"]) for m in late] == [
        (t0, True),
        (t0 + M, False),
    ]
    assert seen["reads"] == []
    assert late[-1] == seen["early"].of("candle")[-1]
    assert [{k: v for k, v in m.items() if k not in STREAM_ONLY} for m in late] == (
        rest_candles(client, t0)
    )


def test_a_trade_stamped_before_a_closed_bucket_rebuilds_the_feed(
    funded, alice, bob, matcher, clock, client, settings
):
    settings.WS_CANDLE_CLOSE_MS = 200
    t0 = clock.ms
    seen: dict[str, Any] = {}

    def stalled() -> None:
        # A matcher that stalled past the grace commits a trade stamped in
        # t0's bucket: the feed cannot fold it, so it reloads. (The hub
        # reads on this same thread: it sees the trade with the clock back.)
        clock.ms = t0 + 59_000
        trade(funded, matcher, alice, bob, "62000", "0.0010")
        clock.ms = t0 + M + 300

    async def scenario(s: Streams) -> None:
        clock.ms = t0 + 1_000
        await sync(trade, funded, matcher, alice, bob, "63000", "0.0040")
        sent = await s.subscribe("candles:1m")
        await s.settle()
        await s.tick(t0 + M + 200)  # t0 closes by the clock
        await sync(stalled)
        await s.settle()
        seen["sent"] = sent

    run(funded, clock, scenario)
    messages = seen["sent"].messages
    kinds = [(m["type"], m.get("start_ts"), m.get("closed")) for m in messages]
    resync = kinds.index(("resync", None, None))
    assert kinds[:resync] == [
        ("candle", t0, False),
        ("candle", t0, True),
        ("candle", t0 + M, False),
    ]
    assert messages[resync] == {
        "type": "resync",
        "channel": "candles",
        "interval": "1m",
        "pair": "BTC-USD",
        "reason": "rebuild",
    }
    after = messages[resync + 1 :]
    assert [(m["start_ts"], m["closed"]) for m in after] == [
        (t0, True),
        (t0 + M, False),
    ]
    assert after[0]["trades"] == 2 and after[0]["low"] == "62000.000000"
    cut = [{k: v for k, v in m.items() if k not in STREAM_ONLY} for m in after]
    assert cut == rest_candles(client, t0)


def test_subscriptions_of_a_pair_and_interval_share_one_feed_and_one_hub_seat(
    funded, alice, bob, matcher, clock
):
    async def scenario(s: Streams) -> None:
        await sync(trade, funded, matcher, alice, bob, "63000", "0.0040")
        a = await s.subscribe("candles:1m")
        b = await s.subscribe("candles:1m")
        c = await s.subscribe("candles:5m")
        t = await s.subscribe("ticker")
        u = await s.subscribe("ticker")
        await s.settle()
        assert len(stream_feeds._feeds) == 3
        assert len(s.hub.subscribers[funded.pk]) == 3  # the feeds, not clients
        await sync(trade, funded, matcher, alice, bob, "63050", "0.0010")
        await s.settle()
        assert a.messages == b.messages and t.messages == u.messages
        assert c.of("candle")[-1]["close"] == "63050.000000"
        streams.subscription_stop(s.subs.pop(0))
        assert len(stream_feeds._feeds) == 3
        streams.subscription_stop(s.subs.pop(0))
        assert len(stream_feeds._feeds) == 2  # the 1m feed left the hub
        assert len(s.hub.subscribers[funded.pk]) == 2

    run(funded, clock, scenario)


def test_a_slow_candles_subscriber_is_resynced_with_the_current_candles(
    funded, alice, bob, matcher, clock, settings
):
    settings.WS_QUEUE_LIMIT = 2
    seen: dict[str, Any] = {}

    async def scenario(s: Streams) -> None:
        await sync(trade, funded, matcher, alice, bob, "63000", "0.0040")
        sent = await s.subscribe("candles:1m")
        await s.settle()
        sub = s.subs[0]
        sub.task.cancel()  # the client stops reading...
        for price in ("63001", "63002", "63003", "63004"):
            await sync(trade, funded, matcher, alice, bob, price, "0.0010")
            await s.settle()
        sub.task = asyncio.get_running_loop().create_task(sub.run())  # ...and resumes
        await s.settle()
        seen["sent"] = sent

    run(funded, clock, scenario)
    messages = seen["sent"].messages
    # The queue held two, then overflowed: what was queued is dropped, the
    # client is told, and the current candle follows (after what was
    # queued after the drop).
    assert [m["type"] for m in messages] == ["candle", "resync", "candle", "candle"]
    assert messages[1]["reason"] == "slow_consumer"
    assert messages[1]["interval"] == "1m"
    assert (messages[-1]["close"], messages[-1]["trades"]) == ("63004.000000", 5)


# ------------------------------------------------------------------ ticker


def rest_ticker(client) -> dict[str, Any]:
    response = client.get("/v1/ticker/BTC-USD")
    assert response.status_code == 200, response.content
    return response.json()


def test_ticker_stream_is_rest_ticker_read_once_per_period_for_all_clients(
    funded, alice, bob, matcher, clock, client, settings, monkeypatch
):
    settings.WS_TICKER_MS = 300
    reads: list[float] = []
    real = selectors.ticker_get_exact

    def counted(**kwargs):
        reads.append(time.monotonic())
        return real(**kwargs)

    monkeypatch.setattr(selectors, "ticker_get_exact", counted)
    # When the feed starts each read, on the event loop's clock (the one its
    # throttle keeps): the database thread above may start a read later by
    # a varying delay on a busy machine, so its times do not show the gaps.
    started: list[float] = []
    real_read = stream_feeds.TickerFeed._read

    async def timed_read(self: stream_feeds.TickerFeed) -> None:
        started.append(asyncio.get_running_loop().time())
        await real_read(self)

    monkeypatch.setattr(stream_feeds.TickerFeed, "_read", timed_read)
    seen: dict[str, Any] = {}

    async def scenario(s: Streams) -> None:
        clock.ms += 1_000
        await sync(place, alice, funded, side="buy", price="62990", size="0.01")
        await sync(place, bob, funded, side="sell", price="63010", size="0.01")
        await sync(trade, funded, matcher, alice, bob, "63000", "0.0040")
        first = await s.subscribe("ticker")
        second = await s.subscribe("ticker")
        await s.settle()
        seen["at_start"] = (len(reads), list(first.messages), list(second.messages))
        seen["rest_start"] = await sync(rest_ticker, client)
        # Deep in the book: the ticker cannot change, so no read, no message.
        await asyncio.sleep(0.35)
        await sync(place, alice, funded, side="buy", price="62000", size="0.01")
        await sync(matcher)
        await s.settle()
        await asyncio.sleep(0.35)
        seen["deep"] = (len(reads), len(first.messages))
        # A burst of trades and top-of-book changes: throttled reads.
        for k in range(6):
            clock.ms += 100
            await sync(trade, funded, matcher, alice, bob, str(63000 + k), "0.0010")
            await sync(
                place, alice, funded, side="buy", price=f"{62991 + k}", size="0.01"
            )
            await sync(matcher)
            await asyncio.sleep(0.05)
        await s.settle()
        await asyncio.sleep(0.4)
        seen.update(first=first, second=second, reads=list(reads))
        seen["rest_end"] = await sync(rest_ticker, client)

    run(funded, clock, scenario)
    reads_at_start, first0, second0 = seen["at_start"]
    assert reads_at_start == 1  # two clients, one read
    assert len(first0) == len(second0) == 1 and first0 == second0
    (msg,) = first0
    rest = seen["rest_start"]
    assert (msg["type"], msg["channel"], msg["seq"]) == (
        "ticker",
        "ticker",
        rest["sequence"],
    )
    assert {k: v for k, v in msg.items() if k not in ("type", "channel", "seq")} == rest
    assert (msg["last_price"], msg["best_bid"], msg["best_ask"]) == (
        "63000.000000",
        "62990.000000",
        "63010.000000",
    )
    assert seen["deep"] == (1, 1)
    reads = seen["reads"]
    assert len(started) == len(reads)
    assert all(b - a >= 0.299 for a, b in itertools.pairwise(started)), started
    first, second = seen["first"], seen["second"]
    assert first.messages == second.messages
    assert len(first.messages) <= len(reads)  # a read that moved nothing sends none
    assert 2 <= len(first.messages) < 1 + 6 * 2  # throttled, not one per event
    last = first.messages[-1]
    rest = seen["rest_end"]
    assert {
        k: v for k, v in last.items() if k not in ("type", "channel", "seq")
    } == rest
    assert (last["last_price"], last["best_bid"]) == ("63005.000000", "62996.000000")
    assert (
        last["seq"]
        == rest["sequence"]
        == selectors.market_event_last_seq(pair_id=funded.pk)
    )


def test_a_feeds_work_that_fails_is_logged_and_started_again(
    btc_usd, caplog, monkeypatch
):
    monkeypatch.setattr(stream_feeds, "RETRY_S", 0.01)
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")

    feed = stream_feeds.Feed(streams.MarketHub(poll_s=1), btc_usd, "ticker")
    async_to_sync(feed._supervised)(work)
    assert len(calls) == 2
    assert "ticker BTC-USD: feed failed" in caplog.text


def test_a_feed_that_had_to_forget_events_while_reading_reads_again(
    funded, alice, bob, matcher, clock, monkeypatch
):
    """A busy market while the database is slow: past PENDING_LIMIT events
    kept during a read, a feed forgets them and reads again (the next read
    holds them all) rather than keep an unbounded list."""
    monkeypatch.setattr(stream_feeds, "PENDING_LIMIT", 2)
    trade(funded, matcher, alice, bob, "63000", "0.0040")
    reads: list[str] = []
    real_candles, real_ticker = selectors.candles_now, selectors.ticker_get_exact

    def slow(real, name):
        def read(**kwargs):
            reads.append(name)
            time.sleep(0.2)  # the feed gets events meanwhile
            return real(**kwargs)

        return read

    monkeypatch.setattr(selectors, "candles_now", slow(real_candles, "candles"))
    monkeypatch.setattr(selectors, "ticker_get_exact", slow(real_ticker, "ticker"))
    seen: dict[str, Any] = {}

    async def scenario(s: Streams) -> None:
        last = await sync(selectors.market_event_last_seq, pair_id=funded.pk)
        candles = await s.subscribe("candles:1m")
        ticker = await s.subscribe("ticker")
        await asyncio.sleep(0.05)  # both are reading
        for feed in list(stream_feeds._feeds.values()):
            for seq in range(last + 1, last + 4):  # more than PENDING_LIMIT
                feed.deliver(streams.Event(funded.pk, seq, "book", {"changes": []}))
        await asyncio.sleep(1.0)
        seen.update(candles=candles, ticker=ticker)

    run(funded, clock, scenario)
    assert sorted(reads) == ["candles", "candles", "ticker", "ticker"]
    (candle,) = seen["candles"].of("candle")  # from the second read only
    assert (candle["trades"], candle["closed"]) == (1, False)
    assert len(seen["ticker"].of("ticker")) >= 1


def test_a_hub_reload_rebuilds_the_candles_and_rereads_the_ticker(
    funded, alice, bob, matcher, clock, monkeypatch, settings
):
    """The journal reader reloads a pair it cannot continue (skipping
    events): the feeds start again from the database, the candles' clients
    told why."""
    settings.WS_TICKER_MS = 50
    trade(funded, matcher, alice, bob, "63000", "0.0040")
    reads: list[int] = []
    real = selectors.ticker_get_exact

    def counted(**kwargs):
        reads.append(1)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "ticker_get_exact", counted)
    seen: dict[str, Any] = {}

    async def scenario(s: Streams) -> None:
        candles = await s.subscribe("candles:1m")
        await s.subscribe("ticker")
        await s.settle()
        before = len(reads)
        async with s.hub.lock:
            await s.hub._reload(funded.pk, "sequence_reset")
        await s.settle()
        seen.update(candles=candles, reads=len(reads) - before)

    run(funded, clock, scenario)
    kinds = [(m["type"], m.get("reason")) for m in seen["candles"].messages]
    assert kinds == [
        ("candle", None),
        ("resync", "sequence_reset"),
        ("candle", None),
    ]
    assert seen["reads"] == 1
