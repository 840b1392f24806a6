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
