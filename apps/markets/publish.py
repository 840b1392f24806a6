"""Fan-out of committed market events to the WebSocket servers.

With Redis, the matcher sends each event to the pair's channel-layer group.
Without Redis (embedded default) the channel layer is in-process, so the
WebSocket server reads the events journal (MarketEvent) instead and the
matcher publishes nothing here. Either way the journal is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from channels.layers import get_channel_layer
from django.conf import settings


class JournalEvent(NamedTuple):
    """A market event as the matcher journals and publishes it (a MarketEvent
    row without the model's cost on the hot path)."""

    pair_id: int
    seq: int
    type: str
    payload: dict[str, Any]


def market_group(pair_id: int) -> str:
    return f"market.{pair_id}"


def event_message(event: JournalEvent) -> dict[str, object]:
    return {
        "type": "market.event",
        "pair_id": event.pair_id,
        "seq": event.seq,
        "event": event.type,
        "payload": event.payload,
    }


async def publish_market_events_async(events: Iterable[JournalEvent]) -> None:
    """Send each event to its pair's group, in order. Call it from one
    long-lived event loop (the matcher's publisher thread): the Redis layer
    keeps its connections per loop."""
    if not settings.REDIS_URL:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    for event in events:
        await layer.group_send(market_group(event.pair_id), event_message(event))
