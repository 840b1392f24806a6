"""The matcher's publisher thread delivers committed market events to the
channel layer (Redis), each batch in commit order."""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.markets.publish import JournalEvent, market_group
from apps.matching.publisher import EventPublisher

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the Redis channel layer: needs REDIS_URL"
)
PAIR = 987_654  # a group no other test uses


def test_batches_arrive_in_commit_order():
    layer = get_channel_layer()
    publisher = EventPublisher()

    async def scenario() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add(market_group(PAIR), channel)
        await asyncio.sleep(0.2)  # the subscription is in place
        publisher.submit(
            [
                JournalEvent(PAIR, 1, "book", {"prev_seq": 0, "bids": []}),
                JournalEvent(PAIR, 2, "trade", {"price": "63000.00"}),
            ]
        )
        publisher.submit([JournalEvent(PAIR, 3, "book", {"prev_seq": 2})])
        received = [
            await asyncio.wait_for(layer.receive(channel), timeout=5) for _ in range(3)
        ]
        await layer.group_discard(market_group(PAIR), channel)
        return received

    try:
        received = async_to_sync(scenario)()
    finally:
        publisher.close()
    assert [(m["seq"], m["event"]) for m in received] == [
        (1, "book"),
        (2, "trade"),
        (3, "book"),
    ]
    assert received[1]["payload"] == {"price": "63000.00"}
    assert received[0]["type"] == "market.event" and received[0]["pair_id"] == PAIR
    assert publisher.thread is None  # closed: its loop and connection too


def test_an_exchange_on_another_redis_database_hears_nothing_of_this_one():
    """Redis pub/sub ignores the database number: the channel layer's prefix
    names it (settings), so two exchanges on one Redis server stay apart."""
    from urllib.parse import urlsplit

    from channels_redis.pubsub import RedisPubSubChannelLayer
    from django.conf import settings

    ours = urlsplit(settings.REDIS_URL).path.strip("/") or "0"
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] == f"asgi.db{ours}."
    other_db = "15" if ours != "15" else "14"
    other_url = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{other_db}"
    layer = get_channel_layer()
    other = RedisPubSubChannelLayer(hosts=[other_url], prefix=f"asgi.db{other_db}.")

    async def scenario() -> tuple[list[dict], list[dict]]:
        mine, theirs = await layer.new_channel(), await other.new_channel()
        await layer.group_add(market_group(PAIR), mine)
        await other.group_add(market_group(PAIR), theirs)
        await asyncio.sleep(0.2)
        await layer.group_send(market_group(PAIR), {"type": "x", "n": 1})
        got = [await asyncio.wait_for(layer.receive(mine), timeout=5)]
        heard = []
        try:
            heard.append(await asyncio.wait_for(other.receive(theirs), timeout=0.5))
        except TimeoutError:
            pass
        await layer.group_discard(market_group(PAIR), mine)
        await other.group_discard(market_group(PAIR), theirs)
        await other.flush()
        return got, heard

    got, heard = async_to_sync(scenario)()
    assert got == [{"type": "x", "n": 1}] and heard == []
