"""The WebSocket edge, ``/v1/ws``: one connection, many subscriptions.

Thin: it parses a frame, calls the streams service and sends JSON. Public
market channels come from ``apps.markets.streams``; the private channels and
order entry (which need ``auth``) will join them here, which is why the one
multiplexing consumer lives in ``orders``, above ``markets``.
docs/websocket.md documents every message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from apps.core.errors import DomainError, ErrorCode
from apps.core.middleware import now_ms
from apps.markets import stream_wire, streams

MAX_SUBSCRIPTIONS = 50  # per connection
log = logging.getLogger(__name__)


class StreamConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.subscriptions: dict[tuple[str, str], streams.Subscription] = {}
        self.sending = asyncio.Lock()
        await self.accept()
        self.heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def disconnect(self, code: int) -> None:
        self.heartbeat.cancel()
        for sub in self.subscriptions.values():
            streams.subscription_stop(sub)
        self.subscriptions.clear()

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_text(stream_wire.dumps(message))

    async def send_text(self, text: str) -> None:
        # One frame at a time: subscriptions and the heartbeat send from
        # their own tasks.
        async with self.sending:
            await self.send(text_data=text)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        request_id: Any = None
        try:
            frame = _frame(text_data)
            request_id = frame.get("id")
            if not isinstance(request_id, str) or not 1 <= len(request_id) <= 64:
                request_id = None
                raise DomainError(
                    "Every request needs an id: a string of 1-64 characters.",
                    code=ErrorCode.VALIDATION_ERROR,
                    details={"field": "id"},
                )
            await self._op(frame, request_id)
        except DomainError as exc:
            await self.send_json(_error(request_id, exc))
        except Exception:  # noqa: BLE001 - a frame, never a dropped connection
            log.exception("websocket request failed")
            failure = DomainError(
                "The server could not process the request; retry.",
                code=ErrorCode.SYSTEM_INTERNAL_ERROR,
            )
            await self.send_json(_error(request_id, failure))

    async def _op(self, frame: dict[str, Any], request_id: str) -> None:
        op = frame.get("op")
        if op == "ping":
            await self.send_json(
                {"type": "pong", "id": request_id, "server_time": now_ms()}
            )
        elif op in ("subscribe", "unsubscribe"):
            channel, symbol, depth = stream_wire.subscription_request(frame)
            if op == "subscribe":
                await self._subscribe(channel, symbol, depth, request_id)
            else:
                self._unsubscribe(channel, symbol)
                await self.send_json(_ack(request_id, op, channel, symbol.upper()))
        else:
            raise DomainError(
                "Unknown op; one of ping, subscribe, unsubscribe.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"field": "op", "ops": ["ping", "subscribe", "unsubscribe"]},
            )

    async def _subscribe(
        self, channel: str, symbol: str, depth: int, request_id: str
    ) -> None:
        key = (channel, symbol.upper())
        if key in self.subscriptions:
            raise DomainError(
                f"Already subscribed to {channel} {key[1]}.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"channel": channel, "pair": key[1], "subscribed": True},
            )
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise DomainError(
                f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"max_subscriptions": MAX_SUBSCRIPTIONS},
            )
        # The ack goes first: the subscription's own task sends the snapshot,
        # and holding the send lock keeps it behind the ack.
        async with self.sending:
            sub = await streams.subscription_start(
                channel=channel, symbol=symbol, depth=depth, send=self.send_text
            )
            self.subscriptions[sub.key] = sub
            await self.send(
                text_data=stream_wire.dumps(
                    _ack(request_id, "subscribe", channel, sub.pair.symbol)
                )
            )

    def _unsubscribe(self, channel: str, symbol: str) -> None:
        sub = self.subscriptions.pop((channel, symbol.upper()), None)
        if sub is not None:
            streams.subscription_stop(sub)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_HEARTBEAT_MS / 1000)
            await self.send_json(
                {
                    "type": "heartbeat",
                    "server_time": now_ms(),
                    "subscriptions": [
                        {"channel": c, "pair": p, "seq": sub.last_seq}
                        for (c, p), sub in self.subscriptions.items()
                    ],
                }
            )


def _frame(text: str | None) -> dict[str, Any]:
    if text is None:
        raise DomainError(
            "Binary frames are not supported; send JSON text.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"frame": "binary"},
        )
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise DomainError(
            "The frame is not valid JSON.", code=ErrorCode.VALIDATION_MALFORMED_JSON
        ) from None
    if not isinstance(frame, dict):
        raise DomainError(
            "A request is a JSON object with an op and an id.",
            code=ErrorCode.VALIDATION_ERROR,
        )
    return frame


def _ack(request_id: str, op: str, channel: str, pair: str) -> dict[str, Any]:
    return {"type": "ack", "id": request_id, "op": op, "channel": channel, "pair": pair}


def _error(request_id: Any, exc: DomainError) -> dict[str, Any]:
    """The REST error shape, in a frame (DESIGN.md, Errors)."""
    return {
        "type": "error",
        "id": request_id,
        "error": {
            "code": str(exc.code),
            "message": exc.message,
            "retryable": exc.retryable,
            "details": exc.details,
        },
    }
