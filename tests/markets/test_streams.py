"""The market streams' service, in process: the journal reader's cursor, the
hub's in-memory book, exact depth windows with checksums, and resyncs."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db.backends.utils import CursorWrapper

from apps.markets import selectors, stream_wire, streams
from apps.markets.models import MarketEvent
from apps.orders.cancels import order_cancel
from tests.helpers import place
from tests.markets.ws_book import LocalBook, checksum

# Transactional: the service reads through database_sync_to_async, which
# closes a connection it finds inside a test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def journal(pair, seq: int, kind: str = "book", **payload) -> None:
    MarketEvent.objects.create(pair=pair, seq=seq, type=kind, payload=payload)


def book_change(
    pair, seq: int, price: str = "63000.000000", size: str = "0.01000000"
) -> None:
    journal(pair, seq, changes=[["buy", price, size]], prev_seq=seq - 1)


ajournal = database_sync_to_async(journal)
abook_change = database_sync_to_async(book_change)


def event(pair, seq: int, *changes: list[str]) -> streams.Event:
    return streams.Event(pair.pk, seq, "book", {"changes": list(changes)})


class Collector:
    """A subscription's socket: keeps the messages sent, and feeds book
    messages to a strict LocalBook (chain, depth and checksum checked)."""

    def __init__(self, pair=None, depth: int = 100) -> None:
        self.messages: list[dict] = []
        self.book = LocalBook(pair.symbol, depth) if pair is not None else None

    async def __call__(self, text: str) -> None:
        self.take(text)

    def take(self, text: str) -> None:
        msg = json.loads(text)
        self.messages.append(msg)
        if self.book is not None:
            self.book.apply(msg)


def db_top(pair, depth: int) -> dict[str, list[list[str]]]:
    book = selectors.orderbook_snapshot(pair=pair, depth=depth)
    return {
        "bids": stream_wire.wire_levels(pair, book.bids),
        "asks": stream_wire.wire_levels(pair, book.asks),
    }


async def stop_hub(hub: streams.MarketHub, *subs: streams.Subscription) -> None:
    for sub in subs:
        hub.leave(sub)
        if sub.task is not None:
            sub.task.cancel()
    for task in (hub.listener, hub.task):
        if task is not None:
            task.cancel()
    await asyncio.sleep(0.01)


async def settle(*subs: streams.Subscription) -> None:
    """Let the subscriptions' tasks send all that is queued."""
    for _ in range(400):
        await asyncio.sleep(0.002)
        if all(sub.queue.empty() for sub in subs):
            break
    await asyncio.sleep(0.01)


async def start(hub: streams.MarketHub, sub: streams.Subscription) -> None:
    sub.last_seq = await hub.join(sub)
    sub.task = asyncio.get_running_loop().create_task(sub.run())


# ------------------------------------------------------------ the hub's reader


def test_a_subscriber_gets_every_event_of_its_channel_after_the_cursor(btc_usd):
    book_change(btc_usd, 1)
    hub = streams.MarketHub(poll_s=0.01)
    trades = streams.Subscription("trades", btc_usd, 1, Collector())
    book = streams.Subscription("book", btc_usd, 10, Collector())

    assert async_to_sync(hub.join)(trades) == 1  # the journal's end when it joined
    assert async_to_sync(hub.join)(book) == 1
    book_change(btc_usd, 2, size="0.02000000")
    journal(btc_usd, 3, "trade", trade_seq=1)
    book_change(btc_usd, 4, price="62999.000000")
    async_to_sync(hub.poll_once)()
    got = {}
    for sub in (trades, book):
        got[sub.channel] = []
        while not sub.queue.empty():
            got[sub.channel].append(sub.queue.get_nowait().seq)
    # The queue holds what will be sent: a trades subscription no book event.
    assert got == {"trades": [3], "book": [2, 4]}
    assert hub.cursor[btc_usd.pk] == 4
    assert hub.books[btc_usd.pk].book.top("buy", 5) == [
        (6_300_000, 200),
        (6_299_900, 100),
    ]
    hub.leave(trades)
    hub.leave(book)
    assert btc_usd.pk not in hub.subscribers and btc_usd.pk not in hub.books


def test_the_first_subscriber_loads_the_whole_book_and_the_next_ones_read_nothing(
    funded, alice, bob, matcher, monkeypatch
):
    for k in range(1, 131):  # deeper than any public depth
        place(alice, funded, side="buy", price=str(60000 - k), size="0.001")
    place(bob, funded, side="sell", price="60001", size="0.002")
    matcher()
    loads = []
    real = selectors.orderbook_snapshot

    def counted(**kwargs):
        loads.append(kwargs["depth"])
        return real(**kwargs)

    monkeypatch.setattr(selectors, "orderbook_snapshot", counted)
    # Every statement of every connection (the service's run in the threads
    # of database_sync_to_async, with connections of their own).
    queries: list[str] = []
    real_execute = CursorWrapper.execute

    def execute(self, sql, params=None):
        queries.append(sql)
        return real_execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", execute)

    async def scenario() -> None:
        hub = streams.MarketHub(poll_s=60)
        first = streams.Subscription("book", funded, 100, Collector(funded, 100))
        await start(hub, first)
        await settle(first)
        assert loads == [None], "one read of every level"
        assert hub.books[funded.pk].book.depth("buy") == 130
        subs = [first]
        queries.clear()
        for depth in (1, 25, 100, 100):
            sub = streams.Subscription("book", funded, depth, Collector(funded, depth))
            await start(hub, sub)
            subs.append(sub)
        await settle(*subs)
        assert queries == []
        assert loads == [None]
        for sub in subs:
            (snapshot,) = sub.send.messages
            assert snapshot["type"] == "book_snapshot"
            top = await database_sync_to_async(db_top)(funded, sub.depth)
            assert [snapshot["bids"], snapshot["asks"]] == [top["bids"], top["asks"]]
            assert snapshot["checksum"] == checksum(top["bids"], top["asks"], sub.depth)
        # Snapshots of one depth at one cursor are one text.
        assert subs[3].send.messages == subs[4].send.messages
        await stop_hub(hub, *subs)

    async_to_sync(scenario)()


def test_the_book_subscription_drops_what_its_snapshot_holds_and_chains_the_rest(
    btc_usd,
):
    hub = streams.MarketHub(poll_s=60)
    sent = Collector(btc_usd, 10)
    sub = streams.Subscription("book", btc_usd, 10, sent)

    async def scenario() -> None:
        assert await hub.join(sub) == 0
        await abook_change(btc_usd, 1, "62990.000000")
        await abook_change(btc_usd, 2, "62980.000000")
        await hub.poll_once()
        # Queued before the subscription's task cut its snapshot, which (at
        # the hub's cursor, 2) already holds them: dropped, not sent.
        assert [ev.seq for ev in list(sub.queue._queue)] == [1, 2]
        sub.task = asyncio.get_running_loop().create_task(sub.run())
        await settle(sub)
        await ajournal(btc_usd, 3, "trade", trade_seq=1)
        await abook_change(btc_usd, 4, "62970.000000")
        await hub.poll_once()
        await settle(sub)
        await stop_hub(hub, sub)

    async_to_sync(scenario)()
    kinds = [(m["type"], m.get("seq"), m.get("prev_seq")) for m in sent.messages]
    assert kinds == [("book_snapshot", 2, None), ("book_delta", 4, 2)]
    assert sent.messages[0]["bids"] == [
        ["62990.000000", "0.01000000"],
        ["62980.000000", "0.01000000"],
    ]
    assert sent.messages[1]["changes"] == [["buy", "62970.000000", "0.01000000"]]
    assert sub.last_seq == 4
    assert sent.book.checksums == 2


class Socket:
    """A connection that takes ready-made frames (``write_now``) while
    ``open``; what it took is decoded into the ``Collector``."""

    def __init__(self, collector: Collector) -> None:
        self.collector, self.open, self.frames = collector, True, []

    def __call__(self, frame: bytes) -> bool:
        if not self.open:
            return False
        self.frames.append(frame)
        header = 2 if frame[1] <= 125 else 4  # our frames here are small
        self.collector.take(frame[header:].decode())
        return True


def test_an_idle_subscription_is_written_by_the_hub_one_frame_for_all(btc_usd):
    hub = streams.MarketHub(poll_s=60)
    sent = [Collector(btc_usd, 10), Collector(btc_usd, 10), Collector()]
    sockets = [Socket(c) for c in sent]
    subs = [
        streams.Subscription("book", btc_usd, 10, sent[0], write_now=sockets[0]),
        streams.Subscription("book", btc_usd, 10, sent[1], write_now=sockets[1]),
        streams.Subscription("trades", btc_usd, 1, sent[2], write_now=sockets[2]),
    ]

    async def scenario() -> None:
        for sub in subs:
            await start(hub, sub)
        await settle(*subs)
        assert all(sub.idle for sub in subs)
        await abook_change(btc_usd, 1, "62990.000000")
        await ajournal(
            btc_usd,
            2,
            "trade",
            trade_seq=1,
            price="62990.000000",
            size="0.01000000",
            taker_side="sell",
            ts=1_700_000_000_000,
        )
        await hub.poll_once()
        # Written by the hub itself, nothing queued, no task woken.
        assert all(sub.queue.empty() and sub.idle for sub in subs)
        # The second connection cannot take a frame now: its event is queued
        # and sent by its task, in order, through ``send``.
        sockets[1].open = False
        await abook_change(btc_usd, 3, "62980.000000")
        await hub.poll_once()
        assert [ev.seq for ev in list(subs[1].queue._queue)] == [3]
        await settle(*subs)
        sockets[1].open = True
        await abook_change(btc_usd, 4, "62970.000000")
        await hub.poll_once()
        await stop_hub(hub, *subs)

    async_to_sync(scenario)()
    for collector in sent[:2]:
        kinds = [(m["type"], m["seq"], m.get("prev_seq")) for m in collector.messages]
        assert kinds == [
            ("book_snapshot", 0, None),
            ("book_delta", 1, 0),
            ("book_delta", 3, 1),
            ("book_delta", 4, 3),
        ]
        assert collector.book.checksums == 4
    assert [(m["type"], m["seq"]) for m in sent[2].messages] == [("trade", 2)]
    # One frame object per message, shared by every connection written to.
    assert sockets[0].frames[0] is sockets[1].frames[0]
    assert len(sockets[1].frames) == 2  # seq 1 and 4; 3 went through send
    assert [sub.last_seq for sub in subs] == [4, 4, 2]


def test_a_forced_gap_skips_one_delta_on_the_direct_path_too(btc_usd):
    hub = streams.MarketHub(poll_s=60)
    sent = Collector()
    sub = streams.Subscription("book", btc_usd, 10, sent, write_now=Socket(sent))

    async def scenario() -> None:
        await start(hub, sub)
        await settle(sub)
        streams.subscription_scenario(sub, "gap")
        await abook_change(btc_usd, 1, "62990.000000")
        await abook_change(btc_usd, 2, "62980.000000")
        await hub.poll_once()
        await stop_hub(hub, sub)

    async_to_sync(scenario)()
    kinds = [(m["type"], m["seq"], m.get("prev_seq")) for m in sent.messages]
    assert kinds == [("book_snapshot", 0, None), ("book_delta", 2, 1)]


def test_a_depth_window_gets_only_its_changes_and_the_level_that_moves_up(btc_usd):
    hub = streams.MarketHub(poll_s=60)
    top2 = streams.Subscription("book", btc_usd, 2, Collector(btc_usd, 2))
    top5 = streams.Subscription("book", btc_usd, 5, Collector(btc_usd, 5))

    async def scenario() -> None:
        for sub in (top2, top5):
            await start(hub, sub)
        await settle(top2, top5)  # the empty book's snapshots, at seq 0
        for k, price in enumerate(("62990", "62980", "62970"), start=1):
            await abook_change(btc_usd, k, f"{price}.000000", f"0.0{k}000000")
        await hub.poll_once()
        await settle(top2, top5)
        await abook_change(btc_usd, 4, "62970.000000", "0.05000000")  # level 3
        await abook_change(btc_usd, 5, "62990.000000", "0")  # the best empties
        await hub.poll_once()
        await settle(top2, top5)
        await stop_hub(hub, top2, top5)

    async_to_sync(scenario)()
    seqs2 = [(m["seq"], m.get("prev_seq")) for m in top2.send.messages]
    seqs5 = [(m["seq"], m.get("prev_seq")) for m in top5.send.messages]
    # Depth 2 never saw seq 3 and 4 (outside its window): seq 5 chains to
    # seq 2, and level 3 enters with its whole size.
    assert seqs2 == [(0, None), (1, 0), (2, 1), (5, 2)]
    assert top2.send.messages[-1]["changes"] == [
        ["buy", "62990.000000", "0.00000000"],
        ["buy", "62970.000000", "0.05000000"],
    ]
    assert seqs5 == [(0, None), (1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]
    assert top5.send.messages[-1]["changes"] == [["buy", "62990.000000", "0.00000000"]]
    assert top2.send.book.levels(2)["bids"] == [
        ["62980.000000", "0.02000000"],
        ["62970.000000", "0.05000000"],
    ]
    assert top2.send.book.checksums == 4 and top5.send.book.checksums == 6


def test_a_depth_n_book_equals_the_databases_top_n_after_random_order_flow(
    funded, alice, bob, matcher
):
    """The in-process matcher journals each batch; subscribers at several
    depths (some joining mid-flow) keep strict books (chain, depth and
    checksum at every message) that end equal to the database's top N."""
    rng = random.Random(20240611)
    users, placed = [alice, bob], []

    def step() -> None:
        for _ in range(rng.randint(1, 4)):
            if placed and rng.random() < 0.3:
                order_cancel(order=placed.pop(rng.randrange(len(placed))))
            else:
                side = rng.choice(["buy", "sell"])
                offset = rng.randint(-12, 2)
                price = 63000 + (offset if side == "buy" else -offset)
                size = f"{rng.randint(1, 30) / 10_000:.4f}"
                placed.append(
                    place(
                        rng.choice(users),
                        funded,
                        side=side,
                        price=str(price),
                        size=size,
                    )
                )
        matcher()

    async def scenario() -> None:
        hub = streams.MarketHub(poll_s=60)
        subs: list[streams.Subscription] = []
        for i in range(60):
            if i in (0, 10, 25, 40):
                for depth in (1, 3, 25) if i else (2, 5, 100):
                    sub = streams.Subscription(
                        "book", funded, depth, Collector(funded, depth)
                    )
                    await start(hub, sub)
                    subs.append(sub)
            await database_sync_to_async(step)()
            await hub.poll_once()
            await settle(*subs)
        for sub in subs:
            book = sub.send.book
            assert book.levels(sub.depth) == await database_sync_to_async(db_top)(
                funded, sub.depth
            ), sub.depth
            assert book.checksums == book.snapshots + book.deltas
            assert book.snapshots == 1 and book.deltas > 0
        await stop_hub(hub, *subs)

    async_to_sync(scenario)()


# ------------------------------------------------------------ resyncs


def test_a_slow_subscription_is_told_and_resynced_with_a_fresh_snapshot(
    btc_usd, settings
):
    settings.WS_QUEUE_LIMIT = 3
    hub = streams.MarketHub(poll_s=60)
    sent = Collector(btc_usd, 10)
    sub = streams.Subscription("book", btc_usd, 10, sent)

    async def scenario() -> None:
        sub.last_seq = await hub.join(sub)
        for seq in range(1, 6):  # more than the queue holds: the client fell behind
            await abook_change(btc_usd, seq, f"{62990 - seq}.000000")
        await hub.poll_once()
        sub.task = asyncio.get_running_loop().create_task(sub.run())
        await settle(sub)
        await stop_hub(hub, sub)

    async_to_sync(scenario)()
    kinds = [m["type"] for m in sent.messages]
    # The first snapshot already holds seq 5; the overflow then announces
    # itself, never silently, and a new snapshot restarts the chain.
    assert kinds == ["book_snapshot", "resync", "book_snapshot"]
    assert sent.messages[1]["reason"] == "slow_consumer"
    assert [m["seq"] for m in sent.messages if m["type"] == "book_snapshot"] == [5, 5]
    assert len(sent.book.bids) == 5


def test_a_journal_that_jumps_reloads_the_pair_and_resyncs_its_subscribers(btc_usd):
    book_change(btc_usd, 1, "62990.000000")
    hub = streams.MarketHub(poll_s=60)
    book = streams.Subscription("book", btc_usd, 10, Collector(btc_usd, 10))
    trades = streams.Subscription("trades", btc_usd, 1, Collector())

    async def scenario() -> None:
        for sub in (book, trades):
            await start(hub, sub)
        await settle(book)
        # Seq 2 never appears: a jump the reader must not skip silently.
        await abook_change(btc_usd, 3, "62980.000000")
        await hub.poll_once()
        await settle(book, trades)
        assert hub.cursor[btc_usd.pk] == 3
        await abook_change(btc_usd, 4, "62970.000000")
        await hub.poll_once()
        await settle(book, trades)
        await stop_hub(hub, book, trades)

    async_to_sync(scenario)()
    kinds = [
        (m["type"], m["seq"] if "seq" in m else m.get("reason"))
        for m in book.send.messages
    ]
    assert kinds == [
        ("book_snapshot", 1),
        ("resync", "sequence_reset"),
        ("book_snapshot", 3),
        ("book_delta", 4),
    ]
    assert trades.send.messages == [
        {
            "type": "resync",
            "channel": "trades",
            "pair": "BTC-USD",
            "reason": "sequence_reset",
        }
    ]
    # The reload read the database's book (no orders here), then seq 4.
    assert book.send.messages[2]["bids"] == db_top(btc_usd, 10)["bids"] == []
    assert book.send.book.levels(10)["bids"] == [["62970.000000", "0.01000000"]]


def test_an_event_that_does_not_apply_reloads_the_pair_instead_of_freezing(btc_usd):
    hub = streams.MarketHub(poll_s=60)
    sub = streams.Subscription("book", btc_usd, 10, Collector(btc_usd, 10))

    async def scenario() -> None:
        await start(hub, sub)
        await settle(sub)
        await ajournal(btc_usd, 1, changes=[["buy", "not a price", "1"]], prev_seq=0)
        await hub.poll_once()  # refused, then reloaded from the database
        await settle(sub)
        assert hub.cursor[btc_usd.pk] == 1 and not hub.broken
        await abook_change(btc_usd, 2, "62980.000000")
        await hub.poll_once()
        await settle(sub)
        await stop_hub(hub, sub)

    async_to_sync(scenario)()
    kinds = [(m["type"], m.get("seq", m.get("reason"))) for m in sub.send.messages]
    assert kinds == [
        ("book_snapshot", 0),
        ("resync", "sequence_reset"),
        ("book_snapshot", 1),
        ("book_delta", 2),
    ]
    assert sub.send.book.levels(10)["bids"] == [["62980.000000", "0.01000000"]]


def test_a_failure_is_announced_and_retried_never_a_frozen_book(btc_usd, monkeypatch):
    hub = streams.MarketHub(poll_s=60)
    real, calls = hub.book_snapshot, []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("something broke")
        return real(*args)

    monkeypatch.setattr(hub, "book_snapshot", flaky)
    monkeypatch.setattr(streams.asyncio, "sleep", _fast_sleep)
    sent = Collector()
    sub = streams.Subscription("book", btc_usd, 10, sent)

    async def scenario() -> None:
        await start(hub, sub)
        for _ in range(500):  # up to ~5 s for the retried snapshot
            await _real_sleep(0.01)
            if len(sent.messages) >= 2:
                break
        await stop_hub(hub, sub)

    async_to_sync(scenario)()
    kinds = [(m["type"], m.get("reason")) for m in sent.messages]
    assert kinds == [("resync", "server_error"), ("book_snapshot", None)]


_real_sleep = asyncio.sleep


async def _fast_sleep(delay: float) -> None:
    await _real_sleep(min(delay, 0.01))


# ------------------------------------------------------------ the wire


def test_the_checksum_of_the_documented_example():
    """docs/websocket.md's worked example, computed here independently."""
    import zlib

    text = "62990.000000:0.50000000:63010.000000:0.25000000:62980.000000:1.20000000"
    assert zlib.crc32(text.encode()) == 1182633689
    bids = [["62990.000000", "0.50000000"], ["62980.000000", "1.20000000"]]
    asks = [["63010.000000", "0.25000000"]]
    assert stream_wire.book_checksum(bids, asks) == 1182633689
    assert checksum(bids, asks, 100) == 1182633689
    assert stream_wire.book_checksum([], []) == 0  # crc32 of ""


def test_the_checksum_covers_25_levels_a_side_at_most():
    bids = [[str(1000 - i), "1"] for i in range(30)]
    asks = [[str(2000 + i), "2"] for i in range(3)]
    fields = []
    for i in range(25):
        fields += bids[i] + (asks[i] if i < 3 else [])
    import zlib

    assert stream_wire.book_checksum(bids, asks) == zlib.crc32(
        ":".join(fields).encode()
    )
    assert stream_wire.book_checksum(bids[:25], asks) == stream_wire.book_checksum(
        bids, asks
    )


def test_subscription_requests_are_validated():
    with pytest.raises(stream_wire.DomainError) as exc:
        stream_wire.subscription_request({"channel": "klines", "pair": "BTC-USD"})
    assert exc.value.details["field"] == "channel"
    for depth in (0, 101, "5", True, 2.5):
        with pytest.raises(stream_wire.DomainError) as exc:
            stream_wire.subscription_request(
                {"channel": "book", "pair": "BTC-USD", "depth": depth}
            )
        assert exc.value.details == {"field": "depth", "max_depth": 100}
    assert stream_wire.subscription_request({"channel": "book", "pair": "eth-usd"}) == (
        "book",
        "eth-usd",
        100,
    )
    verified = stream_wire.BOOK_MAX_DEPTH_VERIFIED
    frame = {"channel": "book", "pair": "BTC-USD", "depth": 1000}
    assert stream_wire.subscription_request(frame, max_depth=verified)[2] == 1000
    with pytest.raises(stream_wire.DomainError) as exc:
        stream_wire.subscription_request(frame | {"depth": 1001}, max_depth=verified)
    assert exc.value.details == {"field": "depth", "max_depth": 1000}


def test_subscription_start_takes_its_callers_max_depth(btc_usd):
    async def scenario() -> None:
        with pytest.raises(stream_wire.DomainError) as exc:
            await streams.subscription_start(
                channel="book", symbol="BTC-USD", depth=1000, send=Collector()
            )
        assert exc.value.details["max_depth"] == 100
        sent = Collector(btc_usd, 1000)
        sub = await streams.subscription_start(
            channel="book", symbol="BTC-USD", depth=1000, send=sent, max_depth=1000
        )
        await settle(sub)
        streams.subscription_stop(sub)
        assert sent.messages[0]["type"] == "book_snapshot"
        await stop_hub(streams.market_hub())

    async_to_sync(scenario)()


def test_a_delta_is_serialised_once_per_depth_and_prev_seq_not_once_per_client(
    btc_usd,
):
    book = streams.StreamBook(btc_usd, selectors.BookSnapshot([], [], 6))
    book.depths.update({1: 2, 10: 3})
    ev = event(btc_usd, 7, ["buy", "63000.000000", "0.01000000"])
    book.apply(ev)
    first = ev.book_text(btc_usd, 10, 6)
    assert ev.book_text(btc_usd, 10, 6) is first  # the next subscriber's copy
    msg = json.loads(first)
    assert (msg["prev_seq"], msg["changes"]) == (
        6,
        [["buy", "63000.000000", "0.01000000"]],
    )
    assert msg["checksum"] == checksum([["63000.000000", "0.01000000"]], [], 10)
    # Right after its snapshot a subscription chains to the snapshot's seq.
    assert json.loads(ev.book_text(btc_usd, 10, 5))["prev_seq"] == 5
    behind = event(btc_usd, 8, ["buy", "62000.000000", "0.01000000"])
    book.apply(behind)
    assert behind.book_text(btc_usd, 1, 7) is None  # depth 1: not in its window
    assert behind.book_text(btc_usd, 10, 7) is not None


def test_with_redis_a_published_event_is_handed_out_without_a_journal_read(
    btc_usd,
):
    from django.conf import settings

    if not settings.REDIS_URL:
        pytest.skip("the channel layer's fast path: needs REDIS_URL")
    from channels.layers import get_channel_layer

    from apps.markets.publish import JournalEvent, publish_market_events_async

    def trade(seq: int) -> JournalEvent:
        return JournalEvent(btc_usd.pk, seq, "trade", {"trade_seq": seq})

    async def scenario() -> None:
        # A reader that polls once at start, then only when woken.
        hub = streams.MarketHub(poll_s=60, layer=get_channel_layer())
        sub = streams.Subscription("trades", btc_usd, 1, Collector())
        assert await hub.join(sub) == 0
        try:
            await asyncio.sleep(0.2)  # the group subscription settles
            # Published, never journaled: it can only come from the layer.
            await publish_market_events_async([trade(1)])
            ev = await asyncio.wait_for(sub.queue.get(), 5)
            assert (ev.seq, ev.payload) == (1, {"trade_seq": 1})
            # A gap (seq 2 lost) is not handed out: it wakes the journal
            # reader, which finds nothing after 1 yet.
            await publish_market_events_async([trade(3)])
            await asyncio.sleep(0.5)
            assert sub.queue.empty() and hub.cursor[btc_usd.pk] == 1
        finally:
            await stop_hub(hub, sub)

    async_to_sync(scenario)()


def test_the_documented_book_messages_are_what_the_hub_sends(btc_usd):
    """docs/websocket.md's book channel examples, at depth 100 and 2."""
    book = streams.StreamBook(
        btc_usd,
        selectors.BookSnapshot(
            [(6_299_000, 5_000), (6_298_000, 12_000)], [(6_301_000, 2_500)], 1041
        ),
    )
    book.depths.update({100: 1, 2: 1})
    for depth in (100, 2):
        assert json.loads(book.snapshot_text(depth, 1041))["checksum"] == 1182633689
    sent: dict[int, list] = {100: [], 2: []}
    prev = {100: 1041, 2: 1041}
    for seq, changes in (
        (1042, [["buy", "62990.000000", "0.40000000"]]),
        (1045, [["sell", "63010.000000", "0"], ["buy", "63000.000000", "0.1"]]),
        (1047, [["buy", "63000.000000", "0.00000000"]]),
    ):
        ev = event(btc_usd, seq, *changes)
        book.apply(ev)
        for depth in (100, 2):
            text = ev.book_text(btc_usd, depth, prev[depth])
            if text is not None:
                msg = json.loads(text)
                sent[depth].append((msg["seq"], msg["changes"], msg["checksum"]))
                prev[depth] = seq
    zero = "0.00000000"
    assert sent[100][:2] == [
        (1042, [["buy", "62990.000000", "0.40000000"]], 1541971214),
        (
            1045,
            [["buy", "63000.000000", "0.10000000"], ["sell", "63010.000000", zero]],
            1851348740,
        ),
    ]
    assert sent[2][1:] == [
        (
            1045,
            [
                ["buy", "63000.000000", "0.10000000"],
                ["buy", "62980.000000", zero],
                ["sell", "63010.000000", zero],
            ],
            730867630,
        ),
        (
            1047,
            [["buy", "63000.000000", zero], ["buy", "62980.000000", "1.20000000"]],
            2276163226,
        ),
    ]
