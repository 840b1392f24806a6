"""The public streams' wire: the messages the server sends and the check of a
subscription request (docs/websocket.md). Plain functions of the pair and
the journal's values; the streams service (streams.py) decides when."""

from __future__ import annotations

import json
from typing import Any

from apps.core.errors import DomainError, ErrorCode
from apps.markets.models import Pair
from apps.markets.selectors import BookSnapshot

PUBLIC_CHANNELS = ("book", "trades")
BOOK_MAX_DEPTH = 100  # the public REST rule; verified accounts' 1,000 needs auth


def dumps(message: dict[str, Any]) -> str:
    """A message's wire text (compact JSON)."""
    return json.dumps(message, separators=(",", ":"))


def resync_message(channel: str, pair: Pair, reason: str) -> dict[str, Any]:
    return {"type": "resync", "channel": channel, "pair": pair.symbol, "reason": reason}


def book_snapshot_message(pair: Pair, book: BookSnapshot) -> dict[str, Any]:
    return {
        "type": "book_snapshot",
        "channel": "book",
        "pair": pair.symbol,
        "seq": book.sequence,
        "bids": [[pair.format_price(p), pair.format_size(s)] for p, s in book.bids],
        "asks": [[pair.format_price(p), pair.format_size(s)] for p, s in book.asks],
    }


def book_delta_message(
    pair: Pair, seq: int, payload: dict[str, Any], prev_seq: int
) -> dict[str, Any]:
    """A journaled book event; ``prev_seq`` is the subscription's previous
    book message (the journal's own ``prev_seq`` chains book events, which a
    snapshot may have passed)."""
    return {
        "type": "book_delta",
        "channel": "book",
        "pair": pair.symbol,
        "seq": seq,
        "prev_seq": prev_seq,
        "changes": payload["changes"],
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


def subscription_request(frame: dict[str, Any]) -> tuple[str, str, int]:
    """(channel, pair symbol, depth) of a subscribe/unsubscribe frame, or
    VALIDATION_ERROR naming the field."""
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
    if (
        isinstance(depth, bool)
        or not isinstance(depth, int)
        or not 1 <= depth <= BOOK_MAX_DEPTH
    ):
        raise DomainError(
            f"depth must be an integer from 1 to {BOOK_MAX_DEPTH}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "depth", "max_depth": BOOK_MAX_DEPTH},
        )
    return channel, pair, depth
