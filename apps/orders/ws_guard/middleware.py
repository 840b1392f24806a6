"""The ASGI middleware in front of every WebSocket (exchange/asgi.py): a
limit on concurrent connections per client address, a bound on each
connection's unsent bytes, and a bound on the size of a client's message.
docs/websocket.md, "Limits and close codes", says what a client sees.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings

from apps.apikeys.ip import address_from
from apps.apikeys.ratelimit import address_bucket
from apps.core.errors import ERRORS, ErrorCode
from apps.orders.ws_guard import transport
from apps.orders.ws_guard.slots import connection_slots

log = logging.getLogger(__name__)

CLOSE_TOO_MANY = 4029  # too many connections (and frame floods: consumer.py)
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big"
# A connection's messages waiting for its consumer: past HIGH its socket is
# not read until the consumer is down to LOW (GuardedConnection._paced).
RECEIVE_QUEUE_HIGH = 64
RECEIVE_QUEUE_LOW = 16

Scope = dict[str, Any]
Receive = Any
Send = Any


def scope_client_bucket(scope: Scope) -> str:
    """The client address a connection counts against: the REST rule
    (apps/apikeys/ip.py: X-Forwarded-For only from a trusted proxy; IPv6 by
    /64 as its rate limits do)."""
    client = scope.get("client") or [""]
    forwarded = b",".join(
        value for name, value in scope.get("headers", []) if name == b"x-forwarded-for"
    )
    return address_bucket(address_from(str(client[0]), forwarded.decode("latin1")))


def error_frame(
    code: ErrorCode, message: str, details: dict[str, Any], request_id: Any = None
) -> str:
    """An error frame as the consumer sends them (the REST error shape)."""
    return json.dumps(
        {
            "type": "error",
            "id": request_id,
            "error": {
                "code": str(code),
                "message": message,
                "retryable": ERRORS[code].retryable,
                "details": details,
            },
        },
        separators=(",", ":"),
    )


class WebSocketGuard:
    """Wraps the WebSocket application (``scope["type"] == "websocket"``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = settings.WS_MAX_CONNECTIONS_PER_IP
        bucket = scope_client_bucket(scope)
        slot = None
        if limit > 0 and bucket != "unknown":
            slot = await connection_slots().acquire("ip", bucket, limit)
            if slot is None:
                await _refuse(receive, send, bucket, limit)
                return
        try:
            guarded = GuardedConnection(send)
            if guarded.protocol is not None:  # the streams' direct writes
                scope = dict(scope, ws_write_frame=guarded.write_frame)
            await self.app(scope, guarded.receive_from(receive), guarded.send)
        finally:
            if slot is not None:
                await slot.release()


async def _refuse(receive: Receive, send: Send, bucket: str, limit: int) -> None:
    """Accept, say why in an error frame, close 4029: a browser's or a
    library's handshake failure would say only "403"."""
    while (await receive())["type"] != "websocket.connect":
        pass
    log.info("websocket refused: %s has %d connections", bucket, limit)
    await send({"type": "websocket.accept"})
    text = error_frame(
        ErrorCode.RATE_LIMIT_CONNECTIONS_PER_IP,
        f"At most {limit} connections at once from one address.",
        {"limit": limit, "scope": "ip"},
    )
    await send({"type": "websocket.send", "text": text})
    protocol = transport.daphne_protocol(send)
    if protocol is not None:
        transport.close(protocol, CLOSE_TOO_MANY, "too many connections")
    else:
        await send(
            {
                "type": "websocket.close",
                "code": CLOSE_TOO_MANY,
                "reason": "too many connections",
            }
        )


class GuardedConnection:
    """One connection's ``send`` and ``receive``, guarded.

    - After each frame sent, the bytes the client has not taken yet are
      counted (under daphne: transport.py); past ``WS_SEND_BUFFER_BYTES``
      the connection is closed 4008 "slow consumer" and sends no more, so
      its buffer stops growing and is freed when the connection ends.
    - A client message over ``WS_MAX_FRAME_BYTES`` closes the connection
      with 1009 (under daphne autobahn does it, before buffering it).
    - A ``websocket.close`` with a reason keeps its reason under daphne.
    - Once closed, further sends are dropped instead of raising (autobahn
      raises on a frame sent after the close).
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self.protocol = transport.daphne_protocol(send)
        self.max_pending = settings.WS_SEND_BUFFER_BYTES
        self.max_message = settings.WS_MAX_FRAME_BYTES
        self.closed = False
        if self.protocol is not None and self.max_message > 0:
            transport.limit_message_size(self.protocol, self.max_message)

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        kind = message["type"]
        if self.protocol is None:
            if kind == "websocket.close":
                self.closed = True
            await self._send(message)
            return
        if not transport.is_open(self.protocol):
            self.closed = True
            return
        if kind == "websocket.close":
            self.closed = True
            opened = self.protocol.state == self.protocol.STATE_OPEN
            if opened and message.get("reason"):
                transport.close(
                    self.protocol, message.get("code") or 1000, message["reason"]
                )
                return
        await self._send(message)
        if kind == "websocket.send":
            self._check_pending()

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame made by ``transport.text_frame`` at once, without
        the ASGI ``send`` (no await: the streams hub calls it while handing
        an event out), guarded like ``send``. False when nothing was written
        (not daphne, closed, or autobahn must frame it itself): the caller
        sends the message through ``send`` instead."""
        if self.closed or self.protocol is None:
            return False
        if not transport.write_frame(self.protocol, frame):
            return False
        self._check_pending()
        return True

    def _check_pending(self) -> None:
        if self.max_pending <= 0 or self.protocol is None:
            return
        pending = transport.pending_bytes(self.protocol)
        if pending is not None and pending > self.max_pending:
            self.closed = True
            log.warning(
                "websocket %s: slow consumer, %d bytes unsent; closing %d",
                self.protocol.client_addr,
                pending,
                transport.CLOSE_SLOW_CONSUMER,
            )
            transport.close(
                self.protocol,
                transport.CLOSE_SLOW_CONSUMER,
                "slow consumer",
                grace_s=transport.SLOW_CLOSE_GRACE_S,
            )

    def receive_from(self, receive: Receive) -> Receive:
        """``receive``, guarded: under daphne, reading from the client pauses
        while too many of its messages wait for the application; elsewhere,
        a message over the size limit closes 1009 (daphne's autobahn does
        that itself)."""
        if self.protocol is not None:
            return self._paced(receive)
        if self.max_message <= 0:
            return receive

        async def guarded_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("bytes") or message.get("text") or ""
                size = len(data.encode() if isinstance(data, str) else data)
                if size > self.max_message and not self.closed:
                    await self.send({"type": "websocket.close", "code": CLOSE_TOO_BIG})
                    return {"type": "websocket.disconnect", "code": CLOSE_TOO_BIG}
            return message

        return guarded_receive

    def _paced(self, receive: Receive) -> Receive:
        """daphne reads every frame off the socket into the application's
        queue, which has no bound: a client that sends faster than its
        consumer works grows the server's memory as surely as one that does
        not read. So past ``RECEIVE_QUEUE_HIGH`` waiting messages the socket
        is not read (Twisted's ``pauseProducing``, as its HTTP server does
        while a response cannot be written) until the consumer has worked
        the queue down to ``RECEIVE_QUEUE_LOW``: the client's own sends then
        wait, in its kernel and ours."""
        protocol = self.protocol
        paused = False

        async def paced_receive() -> dict[str, Any]:
            nonlocal paused
            message: dict[str, Any] = await receive()
            queue = getattr(protocol, "application_queue", None)
            waiting = queue.qsize() if queue is not None else 0
            socket = protocol.transport
            if socket is None:  # the connection is gone
                return message
            if not paused and waiting >= RECEIVE_QUEUE_HIGH:
                paused = True
                socket.pauseProducing()
            elif paused and (waiting <= RECEIVE_QUEUE_LOW or self.closed):
                paused = False
                socket.resumeProducing()
            return message

        return paced_receive
