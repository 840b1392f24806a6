"""The wire of the ``ticker`` and ``candles`` channels (docs/websocket.md):
a subscription's channel key, the check of its interval, and the fields
that name its channel. Their ticker and candle messages are REST's bodies
(built in stream_feeds.py by the REST serializers); this module stays free
of them, since every stream (the private ones too) imports stream_wire,
which imports this."""

from __future__ import annotations

from typing import Any

from apps.core.errors import DomainError, ErrorCode
from apps.markets.candles import INTERVALS
from apps.markets.models import Pair

FEED_CHANNELS = ("ticker", "candles")


def channel_key(channel: str, frame: dict[str, Any]) -> str:
    """A subscription's key in its connection: the channel, and for candles
    the interval too (``"candles:1m"``), so one connection holds several
    intervals of a pair. A candles request without a known ``interval`` is
    VALIDATION_ERROR naming the field."""
    if channel != "candles":
        return channel
    interval = frame.get("interval")
    if not isinstance(interval, str) or interval not in INTERVALS:
        raise DomainError(
            f"interval is required for candles: one of {', '.join(INTERVALS)}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "interval", "intervals": list(INTERVALS)},
        )
    return f"candles:{interval}"


def channel_fields(key: str) -> dict[str, str]:
    """The wire fields naming a subscription's channel: ``{"channel":
    "candles", "interval": "1m"}`` for the key ``"candles:1m"``, else
    ``{"channel": key}``."""
    channel, _, interval = key.partition(":")
    if interval:
        return {"channel": channel, "interval": interval}
    return {"channel": channel}


def is_feed(key: str) -> bool:
    """Whether the subscription's channel is ticker or candles."""
    return key.partition(":")[0] in FEED_CHANNELS


def feed_resync_message(key: str, pair: Pair, reason: str) -> dict[str, Any]:
    return {
        "type": "resync",
        **channel_fields(key),
        "pair": pair.symbol,
        "reason": reason,
    }
