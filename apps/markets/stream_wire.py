"""The public streams' wire: the messages the server sends and the check of a
subscription request (docs/websocket.md). Plain functions of the pair and
the journal's values; the streams service (streams.py) decides when."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from apps.core.errors import DomainError, ErrorCode
from apps.core.money import parse_units
from apps.markets.hub_book import Change, Level
from apps.markets.models import Pair
from apps.markets.stream_feeds_wire import FEED_CHANNELS, channel_key

PUBLIC_CHANNELS = ("book", "trades", *FEED_CHANNELS)
BOOK_MAX_DEPTH = 100  # the public REST rule
BOOK_MAX_DEPTH_VERIFIED = 1000  # verified accounts, after auth (the caller decides)
CHECKSUM_DEPTH = 25  # levels per side a book message's checksum covers, at most

WireLevel = Sequence[str]  # [price, size], the decimal strings sent


def dumps(message: dict[str, Any]) -> str:
    """A message's wire text (compact JSON)."""
    return json.dumps(message, separators=(",", ":"))


def resync_message(channel: str, pair: Pair, reason: str) -> dict[str, Any]:
    return {"type": "resync", "channel": channel, "pair": pair.symbol, "reason": reason}


def book_checksum(bids: Sequence[WireLevel], asks: Sequence[WireLevel]) -> int:
    """CRC32 (unsigned) of the top ``CHECKSUM_DEPTH`` levels per side, as
    sent: "bid1 price:bid1 size:ask1 price:ask1 size:bid2 price:...", the
    shorter side's turn skipped once it runs out; "" for an empty book
    (docs/websocket.md has a worked example)."""
    parts: list[str] = []
    for i in range(min(CHECKSUM_DEPTH, max(len(bids), len(asks)))):
        for levels in (bids, asks):
            if i < len(levels):
                parts.extend(levels[i][:2])
    return zlib.crc32(":".join(parts).encode())


def wire_levels(pair: Pair, levels: Sequence[Level]) -> list[list[str]]:
    """[[price, size], ...] of integer levels, as the REST order book."""
    return [[pair.format_price(p), pair.format_size(s)] for p, s in levels]


def wire_changes(pair: Pair, changes: Sequence[Change]) -> list[list[str]]:
    """[[side, price, size], ...] of integer changes; a removed level's size
    is the pair's zero ("0.00000000")."""
    return [[side, pair.format_price(p), pair.format_size(s)] for side, p, s in changes]


def change_from_wire(pair: Pair, change: Sequence[str]) -> Change:
    """A journal book change ``[side, price, total size]`` (written by the
    matcher with the pair's own formats) as integers; anything else is a
    broken journal: ``ValueError``."""
    side, price, size = change
    if side not in ("buy", "sell"):
        raise ValueError(f"book change on side {side!r}")
    ticks, off_tick = divmod(
        parse_units(price, pair.quote.scale, field="price"), pair.tick_size
    )
    lots, off_lot = divmod(
        parse_units(size, pair.base.scale, field="size"), pair.lot_size
    )
    if off_tick or off_lot:
        raise ValueError(f"book change off the pair's grid: {change}")
    return side, ticks, lots


def book_snapshot_message(
    pair: Pair, seq: int, bids: list[WireLevel], asks: list[WireLevel]
) -> dict[str, Any]:
    """A snapshot of levels on the wire already, cut to the subscription's
    depth, with their checksum."""
    return {
        "type": "book_snapshot",
        "channel": "book",
        "pair": pair.symbol,
        "seq": seq,
        "bids": bids,
        "asks": asks,
        "checksum": book_checksum(bids, asks),
    }


def book_delta_message(
    pair: Pair, seq: int, changes: list[list[str]], prev_seq: int, checksum: int
) -> dict[str, Any]:
    """A journaled book event as one depth window saw it (``changes`` on the
    wire already); ``prev_seq`` is the subscription's previous book message,
    ``checksum`` that of its window after the event."""
    return {
        "type": "book_delta",
        "channel": "book",
        "pair": pair.symbol,
        "seq": seq,
        "prev_seq": prev_seq,
        "changes": changes,
        "checksum": checksum,
    }


def trade_message(pair: Pair, seq: int, p: dict[str, Any]) -> dict[str, Any]:
    """A journaled trade event."""
    return {
        "type": "trade",
        "channel": "trades",
        "pair": pair.symbol,
        "seq": seq,
        "trade_seq": p["trade_seq"],
        "price": p["price"],
        "size": p["size"],
        "taker_side": p["taker_side"],
        "ts": p["ts"],
    }


def subscription_request(
    frame: dict[str, Any], *, max_depth: int = BOOK_MAX_DEPTH
) -> tuple[str, str, int]:
    """(channel, pair symbol, depth) of a subscribe/unsubscribe frame, or
    VALIDATION_ERROR naming the field. ``depth`` defaults to the public
    ``BOOK_MAX_DEPTH`` and may go up to ``max_depth`` (the caller's allowance:
    ``BOOK_MAX_DEPTH_VERIFIED`` for a verified account). For candles the
    channel is the key with the interval, e.g. "candles:1m"
    (stream_feeds_wire.channel_key)."""
    channel = frame.get("channel")
    if channel not in PUBLIC_CHANNELS:
        raise DomainError(
            f"Unknown channel; one of {', '.join(PUBLIC_CHANNELS)}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "channel", "channels": list(PUBLIC_CHANNELS)},
        )
    pair = frame.get("pair")
    if not isinstance(pair, str):
        raise DomainError(
            "pair is required, e.g. BTC-USD.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "pair"},
        )
    depth = frame.get("depth", BOOK_MAX_DEPTH)
    check_depth(depth, max_depth)
    return channel_key(channel, frame), pair, depth


def check_depth(depth: object, max_depth: int) -> None:
    """VALIDATION_ERROR unless ``depth`` is an integer from 1 to ``max_depth``."""
    if (
        isinstance(depth, bool)
        or not isinstance(depth, int)
        or not 1 <= depth <= max_depth
    ):
        raise DomainError(
            f"depth must be an integer from 1 to {max_depth}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "depth", "max_depth": max_depth},
        )


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked RFC 6455 text frame (a server's frames are
    never masked): what autobahn's ``sendMessage`` writes for ``payload``
    when it neither compresses nor fragments. Made once per message and
    written to each subscriber's socket (apps/orders/ws_guard/transport.py
    ``write_frame``)."""
    size = len(payload)
    if size <= 125:
        header = bytes((0x81, size))
    elif size <= 0xFFFF:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload
