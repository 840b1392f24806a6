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

from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from apps.accounts import streams as private
from apps.core.errors import DomainError, ErrorCode
from apps.core.middleware import now_ms
from apps.markets import stream_wire, streams
from apps.markets.stream_feeds_wire import channel_fields
from apps.orders import stream_session as sessions
from apps.orders.ws_guard.consumer import GuardedConsumerMixin

MAX_SUBSCRIPTIONS = 50  # per connection
OPS = (
    "ping",
    "subscribe",
    "unsubscribe",
    "resume",
    "auth",
    "place",
    "cancel",
    "cancel_all",
)
SANDBOX_OPS = ("scenario",)  # absent in production, not refused
log = logging.getLogger(__name__)


def _ops() -> tuple[str, ...]:
    return OPS if settings.IS_PRODUCTION else OPS + SANDBOX_OPS


def _off_loop(fn: Any) -> Any:
    """``fn`` in a worker thread of its own, database connections handled as
    Channels does: order entry waits for the matcher, and must not hold up
    the one thread that the streams' database reads share."""
    return DatabaseSyncToAsync(fn, thread_sensitive=False)


ORDER_OPS = {
    "place": lambda session, frame: sessions.session_place(session, _params(frame)),
    "cancel": lambda session, frame: sessions.session_cancel(
        session, frame.get("order_id")
    ),
    "cancel_all": lambda session, frame: sessions.session_cancel_all(
        session, _params(frame)
    ),
}


class StreamConsumer(GuardedConsumerMixin, AsyncWebsocketConsumer):
    # No channel-layer channel per connection: nothing is ever sent to one
    # client through the layer (the hubs hear it once per process), and each
    # would hold a Redis subscription open for nothing.
    channel_layer_alias = "none"

    async def connect(self) -> None:
        self.subscriptions: dict[tuple[str, str], streams.Subscription] = {}
        self.sending = asyncio.Lock()
        self.session: sessions.StreamSession | None = None
        # Under daphne the guard lets the streams write ready-made frames.
        self.write_frame = self.scope.get("ws_write_frame")
        client = self.scope.get("client") or ("",)
        self.remote_addr = str(client[0] or "")
        headers = dict(self.scope.get("headers") or [])
        self.forwarded_for = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        await self.accept()
        self.heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def disconnect(self, code: int) -> None:
        self.heartbeat.cancel()
        self._private_stop_all()
        for sub in self.subscriptions.values():
            streams.subscription_stop(sub)
        self.subscriptions.clear()
        session, self.session = self.session, None
        if session is not None:
            sessions.key_watcher().discard(session)
            cancelled = await _off_loop(sessions.session_close)(session)
            if cancelled:
                log.info("cancel-on-disconnect: %d order(s) cancelled", cancelled)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send_text(stream_wire.dumps(message))

    async def send_text(self, text: str) -> None:
        # One frame at a time: subscriptions and the heartbeat send from
        # their own tasks.
        async with self.sending:
            await self.send(text_data=text)

    def write_now(self, frame: bytes) -> bool:
        """A stream's frame written at once (streams.WriteNow); not while
        another send holds the order of this connection's frames."""
        return not self.sending.locked() and self.write_frame(frame)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        if await self.frame_refused(text_data, bytes_data):
            return
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
        elif op == "resume" or (
            op in ("subscribe", "unsubscribe")
            and frame.get("channel") in private.PRIVATE_CHANNELS
        ):
            await self._private(op, frame, request_id)
        elif op in ("subscribe", "unsubscribe"):
            channel, symbol, depth = stream_wire.subscription_request(
                frame, max_depth=self._max_depth()
            )
            if op == "subscribe":
                await self._subscribe(channel, symbol, depth, request_id)
            else:
                self._unsubscribe(channel, symbol)
                await self.send_json(_ack(request_id, op, channel, symbol.upper()))
        elif op == "auth":
            await self._auth(frame, request_id)
        elif op == "scenario" and not settings.IS_PRODUCTION:
            await self._scenario(frame, request_id)
        elif op in ORDER_OPS:
            if self.session is None:
                raise DomainError(
                    f"{op} needs an authenticated connection: send auth first.",
                    code=ErrorCode.AUTH_REQUIRED,
                )
            answer = await _off_loop(ORDER_OPS[op])(self.session, frame)
            await self.send_json(
                {"type": "ack", "id": request_id, "op": op, "status": answer.status}
                | ({"replayed": answer.status == 200} if op == "place" else {})
                | ({"order": answer.body} if op == "place" else answer.body)
            )
        else:
            raise DomainError(
                f"Unknown op; one of {', '.join(_ops())}.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"field": "op", "ops": list(_ops())},
            )

    async def _scenario(self, frame: dict[str, Any], request_id: str) -> None:
        """The sandbox's stream faults on one of this connection's public
        subscriptions (docs/sandbox.md)."""
        channel, symbol, _ = stream_wire.subscription_request(
            frame, max_depth=self._max_depth()
        )
        sub = self.subscriptions.get((channel, symbol.upper()))
        if sub is None:
            raise DomainError(
                "Subscribe first: a scenario acts on one of your subscriptions.",
                code=ErrorCode.VALIDATION_ERROR,
                details={**channel_fields(channel), "pair": symbol.upper()},
            )
        scenario = frame.get("scenario")
        # The ack goes before what the scenario makes the stream send.
        async with self.sending:
            streams.subscription_scenario(sub, scenario)
            await self.send(
                text_data=stream_wire.dumps(
                    _ack(request_id, "scenario", channel, sub.pair.symbol)
                    | {"scenario": scenario}
                )
            )

    async def _auth(self, frame: dict[str, Any], request_id: str) -> None:
        if self.session is not None:
            raise DomainError(
                "This connection is already authenticated.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"field": "op"},
            )
        session = await _off_loop(sessions.session_open)(
            frame=frame, remote_addr=self.remote_addr, forwarded_for=self.forwarded_for
        )
        await self.key_slot_take(str(session.api_key.pk))
        session.on_end = self._session_ended
        self.session = session
        sessions.key_watcher().add(session)
        await self.send_json(
            {
                "type": "ack",
                "id": request_id,
                "op": "auth",
                "key_scope": session.api_key.scope,
                "cancel_on_disconnect": session.cancel_on_disconnect,
                "max_depth": session.max_depth,
            }
        )

    async def _session_ended(self, error: DomainError) -> None:
        """The session's key stopped working: private subscriptions end, the
        connection stays open for public data."""
        self.session = None
        self._private_stop_all()
        await self.key_slot_release()
        await self.send_json(_error(None, error))

    def _private_stop_all(self) -> None:
        for key in [k for k in self.subscriptions if k[0] in private.PRIVATE_CHANNELS]:
            private.private_stop(self.subscriptions.pop(key))

    async def _private(self, op: str, frame: dict[str, Any], request_id: str) -> None:
        """subscribe / resume / unsubscribe of a private channel."""
        channel, from_seq = private.private_request(frame)
        key = (channel, "")
        if op == "unsubscribe":
            sub = self.subscriptions.pop(key, None)
            if sub is not None:
                private.private_stop(sub)
            await self.send_json(
                {"type": "ack", "id": request_id, "op": op, "channel": channel}
            )
            return
        if self.session is None:
            raise DomainError(
                f"The {channel} channel needs an authenticated connection: "
                "send auth first.",
                code=ErrorCode.AUTH_REQUIRED,
            )
        self._check_room(key, channel, "")
        async with self.sending:
            sub = await private.private_start(
                channel=channel,
                user_id=self.session.user_id,
                from_seq=from_seq,
                send=self.send_text,
            )
            self.subscriptions[key] = sub
            await self.send(
                text_data=stream_wire.dumps(
                    {
                        "type": "ack",
                        "id": request_id,
                        "op": op,
                        "channel": channel,
                        "seq": sub.last_seq,
                    }
                )
            )

    async def _subscribe(
        self, channel: str, symbol: str, depth: int, request_id: str
    ) -> None:
        key = (channel, symbol.upper())
        self._check_room(key, channel, key[1])
        # The ack goes first: the subscription's own task sends the snapshot,
        # and holding the send lock keeps it behind the ack.
        async with self.sending:
            sub = await streams.subscription_start(
                channel=channel,
                symbol=symbol,
                depth=depth,
                send=self.send_text,
                max_depth=self._max_depth(),
                write_now=self.write_now if self.write_frame else None,
            )
            self.subscriptions[sub.key] = sub
            await self.send(
                text_data=stream_wire.dumps(
                    _ack(request_id, "subscribe", channel, sub.pair.symbol)
                )
            )

    def _max_depth(self) -> int:
        """The deepest book this connection may follow: 1,000 levels for a
        verified account's session, the public 100 otherwise."""
        if self.session is None:
            return stream_wire.BOOK_MAX_DEPTH
        return self.session.max_depth

    def _check_room(self, key: tuple[str, str], channel: str, pair: str) -> None:
        if key in self.subscriptions:
            raise DomainError(
                f"Already subscribed to {channel} {pair}".rstrip() + ".",
                code=ErrorCode.VALIDATION_ERROR,
                details={
                    **channel_fields(channel),
                    "pair": pair or None,
                    "subscribed": True,
                },
            )
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise DomainError(
                f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection.",
                code=ErrorCode.VALIDATION_ERROR,
                details={"max_subscriptions": MAX_SUBSCRIPTIONS},
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
                        channel_fields(c)
                        | ({"pair": p} if p else {})
                        | {"seq": s.last_seq}
                        for (c, p), s in self.subscriptions.items()
                    ],
                }
            )


def _params(frame: dict[str, Any]) -> dict[str, Any]:
    """A request's fields without the envelope: the REST body of the op."""
    return {k: v for k, v in frame.items() if k not in ("op", "id")}


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
    # ``channel`` is the subscription's key: "candles:1m" is written as the
    # channel "candles" and the interval "1m".
    fields = channel_fields(channel)
    return {"type": "ack", "id": request_id, "op": op, **fields, "pair": pair}


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
