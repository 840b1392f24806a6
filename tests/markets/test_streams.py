"""The market streams' service, in process: the journal reader's cursor, the
snapshot join, and a slow subscription's resync."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync

from apps.markets import stream_wire, streams
from apps.markets.models import MarketEvent

# Transactional: the service reads through database_sync_to_async, which
# closes a connection it finds inside a test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def journal(pair, seq: int, kind: str = "book", **payload) -> None:
    MarketEvent.objects.create(pair=pair, seq=seq, type=kind, payload=payload)


def book_change(pair, seq: int, price: str = "63000.000000") -> None:
    journal(pair, seq, changes=[["buy", price, "0.01000000"]], prev_seq=seq - 1)


class Collector:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def __call__(self, text: str) -> None:
        self.messages.append(json.loads(text))


def test_a_subscriber_gets_every_event_after_the_hubs_cursor_in_order(btc_usd):
    book_change(btc_usd, 1)
    hub = streams.MarketHub(poll_s=0.01)
    sub = streams.Subscription("trades", btc_usd, 1, Collector())

    assert async_to_sync(hub.join)(sub) == 1  # the journal's end when it joined
    book_change(btc_usd, 2)
    journal(btc_usd, 3, "trade", trade_seq=1)
    book_change(btc_usd, 4)
    async_to_sync(hub.poll_once)()
    got = []
    while not sub.queue.empty():
        got.append(sub.queue.get_nowait().seq)
    assert got == [2, 3, 4]
    assert hub.cursor[btc_usd.pk] == 4
    hub.leave(sub)
    assert btc_usd.pk not in hub.subscribers


def test_the_book_subscription_drops_what_its_snapshot_holds_and_chains_the_rest(
    btc_usd,
):
    sent = Collector()
    sub = streams.Subscription("book", btc_usd, 10, sent)
    # Queued between joining and the snapshot: seq 1-2 are in the snapshot
    # (the journal ends at 2 when it is read), 3 is not yet committed.
    book_change(btc_usd, 1)
    book_change(btc_usd, 2)
    for seq in (1, 2):
        sub.deliver(streams.Event(btc_usd.pk, seq, "book", {"changes": []}))
    sub.deliver(streams.Event(btc_usd.pk, 3, "trade", {}))
    sub.deliver(streams.Event(btc_usd.pk, 4, "book", {"changes": [["sell", "1", "2"]]}))
    _run_until_idle(sub)
    kinds = [(m["type"], m.get("seq"), m.get("prev_seq")) for m in sent.messages]
    assert kinds == [("book_snapshot", 2, None), ("book_delta", 4, 2)]
    assert sub.last_seq == 4


def test_a_slow_subscription_is_told_and_resynced_with_a_fresh_snapshot(
    btc_usd, settings
):
    settings.WS_QUEUE_LIMIT = 3
    sent = Collector()
    sub = streams.Subscription("book", btc_usd, 10, sent)
    for seq in range(1, 6):  # more than the queue holds: the client fell behind
        book_change(btc_usd, seq)
        sub.deliver(streams.Event(btc_usd.pk, seq, "book", {"changes": []}))
    _run_until_idle(sub)
    kinds = [m["type"] for m in sent.messages]
    # The first snapshot already holds seq 5; the overflow then announces
    # itself, never silently, and a new snapshot restarts the chain.
    assert kinds == ["book_snapshot", "resync", "book_snapshot"]
    assert sent.messages[1]["reason"] == "slow_consumer"
    assert [m["seq"] for m in sent.messages if m["type"] == "book_snapshot"] == [5, 5]


def test_subscription_requests_are_validated():
    with pytest.raises(stream_wire.DomainError) as exc:
        stream_wire.subscription_request({"channel": "candles", "pair": "BTC-USD"})
    assert exc.value.details["field"] == "channel"
    for depth in (0, 101, "5", True, 2.5):
        with pytest.raises(stream_wire.DomainError) as exc:
            stream_wire.subscription_request(
                {"channel": "book", "pair": "BTC-USD", "depth": depth}
            )
        assert exc.value.details["field"] == "depth"
    assert stream_wire.subscription_request({"channel": "book", "pair": "eth-usd"}) == (
        "book",
        "eth-usd",
        100,
    )


def _run_until_idle(sub: streams.Subscription) -> None:
    """Run the subscription's task until it waits on an empty queue."""

    async def scenario() -> None:
        task = asyncio.get_running_loop().create_task(sub.run())
        for _ in range(200):
            await asyncio.sleep(0.005)
            if sub.queue.empty():
                break
        await asyncio.sleep(0.05)  # the last message's send
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async_to_sync(scenario)()


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
            event = await asyncio.wait_for(sub.queue.get(), 5)
            assert (event.seq, event.payload) == (1, {"trade_seq": 1})
            # A gap (seq 2 lost) is not handed out: it wakes the journal
            # reader, which finds nothing after 1 yet.
            await publish_market_events_async([trade(3)])
            await asyncio.sleep(0.5)
            assert sub.queue.empty() and hub.cursor[btc_usd.pk] == 1
        finally:
            hub.leave(sub)
            for task in (hub.listener, hub.task):
                if task is not None:
                    task.cancel()
            await asyncio.sleep(0.05)

    async_to_sync(scenario)()


def test_an_event_is_serialised_once_per_process_not_once_per_client(btc_usd):
    event = streams.Event(btc_usd.pk, 7, "book", {"changes": [["buy", "1", "2"]]})
    first = event.text(btc_usd, 6)
    assert event.text(btc_usd, 6) is first  # the next subscriber's copy
    assert json.loads(first)["prev_seq"] == 6
    # Right after its snapshot a subscription chains to the snapshot's seq.
    assert json.loads(event.text(btc_usd, 5))["prev_seq"] == 5


def test_a_failed_snapshot_is_announced_and_retried_never_a_frozen_book(
    btc_usd, monkeypatch
):
    from apps.markets import selectors

    real, calls = selectors.orderbook_snapshot, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        return real(**kwargs)

    monkeypatch.setattr(selectors, "orderbook_snapshot", flaky)
    monkeypatch.setattr(streams.asyncio, "sleep", _fast_sleep)
    sent = Collector()
    sub = streams.Subscription("book", btc_usd, 10, sent)

    async def scenario() -> None:
        task = asyncio.get_running_loop().create_task(sub.run())
        for _ in range(500):  # up to ~5 s for the retried snapshot
            await _real_sleep(0.01)
            if len(sent.messages) >= 2:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async_to_sync(scenario)()
    kinds = [(m["type"], m.get("reason")) for m in sent.messages]
    assert kinds == [("resync", "server_error"), ("book_snapshot", None)]


_real_sleep = asyncio.sleep


async def _fast_sleep(delay: float) -> None:
    await _real_sleep(min(delay, 0.01))
