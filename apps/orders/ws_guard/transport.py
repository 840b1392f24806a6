"""What the ASGI interface does not show of a WebSocket under daphne: the
bytes waiting in the socket's user-space buffer, the frame size limit, and
a close with a reason.

Why this exists: daphne's ASGI ``send`` never waits. It hands the frame to
autobahn, which writes it into Twisted's transport buffer and returns, so a
client that stops reading makes that buffer (and the server's memory) grow
without bound, and the per-subscription queues of apps/markets/streams.py,
which only fill while ``send`` waits, never notice. daphne exposes neither
the buffer's size nor any backpressure, and no ASGI extension or library
adds them (uvicorn's ``send`` awaits the socket's drain, but uvicorn is not
our server: see docs/websocket.md, "Limits and close codes").

So we look through ``send``: daphne builds it as
``functools.partial(Server.handle_reply, protocol)`` (daphne 4.2,
daphne/server.py ``create_application``), and the protocol is autobahn's
``WebSocketServerProtocol`` over a Twisted transport. Everything read here is
named in one place and pinned by tests/orders/test_ws_guard_transport.py,
which fails if a daphne, autobahn or Twisted upgrade moves it. Under another
server (channels' test communicator, uvicorn) ``daphne_protocol`` returns
None and the guard does only what ASGI allows.
"""

from __future__ import annotations

import functools
from typing import Any

from daphne.ws_protocol import WebSocketProtocol

# The close code of a connection whose client cannot keep up.
CLOSE_SLOW_CONSUMER = 4008
# After the 4008 close frame (queued behind what the client has not read),
# how long the client has to read up to it before the connection is
# aborted and its buffer freed. Nothing is added to the buffer meanwhile.
SLOW_CLOSE_GRACE_S = 5.0


def daphne_protocol(send: Any) -> Any | None:
    """daphne's WebSocket protocol behind an ASGI ``send``, or None.
    (Importing daphne is free: it is an installed app, so every process of
    ours has imported it and installed its Twisted reactor already.)"""
    if not isinstance(send, functools.partial) or not send.args:
        return None
    protocol = send.args[0]
    return protocol if isinstance(protocol, WebSocketProtocol) else None


def pending_bytes(protocol: Any) -> int | None:
    """Bytes written to the connection and not yet taken by the kernel.

    Twisted has no public accessor: its ``FileDescriptor`` keeps the bytes
    in ``dataBuffer`` (sent up to ``offset``) and ``_tempDataBuffer``
    (``_tempDataLen`` bytes), which is what its own ``_isSendBufferFull``
    reads. A TLS transport is a wrapper whose ``transport`` is the socket's;
    it encrypts as it writes, so the socket's buffer is the one that grows."""
    transport = getattr(protocol, "transport", None)
    while transport is not None and not hasattr(transport, "dataBuffer"):
        transport = getattr(transport, "transport", None)
    if transport is None:
        return None
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def is_open(protocol: Any) -> bool:
    """Whether autobahn would still send a frame (it raises otherwise)."""
    return bool(protocol.state in (protocol.STATE_CONNECTING, protocol.STATE_OPEN))


def limit_message_size(protocol: Any, max_bytes: int) -> None:
    """Make autobahn refuse a client message (or frame) over ``max_bytes``:
    it closes with 1009 as soon as a frame header announces more, before
    buffering the payload. daphne sets no limit and has no option for one;
    the options are copied onto each protocol when it connects, so setting
    them on the protocol before the first frame is enough. ``failByDrop``
    off: autobahn then says so with a close frame (1009, or 1002 for a
    protocol error) instead of dropping the TCP connection, which a client
    could only report as 1006."""
    protocol.maxMessagePayloadSize = max_bytes
    protocol.maxFramePayloadSize = max_bytes
    protocol.failByDrop = False


def close(protocol: Any, code: int, reason: str, grace_s: float | None = None) -> None:
    """Close with ``code`` and ``reason`` (daphne's ``websocket.close``
    drops the reason). With ``grace_s``, the connection is aborted if the
    client has not finished the closing handshake by then: autobahn's own
    close-handshake timeout, set for this connection alone."""
    if grace_s is not None:
        protocol.closeHandshakeTimeout = grace_s
    protocol.sendClose(code=code, reason=reason)


def write_frame(protocol: Any, frame: bytes) -> bool:
    """Write a frame made by ``stream_wire.text_frame`` straight into the connection's
    transport, as autobahn's ``sendMessage`` would; False (nothing written)
    when autobahn would do more than that for this connection: not open,
    per-message compression, masked or fragmented server frames, a queue of
    chopped writes, or timing tracking.

    Why: a public event goes to every subscriber of a pair with the same
    bytes. Through ASGI each copy costs an asyncio task switch, channels'
    and daphne's send coroutines and autobahn's framing and debug logging
    (~70 us a frame here); written once as a frame and copied into each
    transport it costs a list append (bench/README.md, "ws")."""
    if (
        protocol.state != protocol.STATE_OPEN
        or protocol._perMessageCompress is not None
        or protocol.maskServerFrames
        or protocol.autoFragmentSize
        or protocol.send_queue
        or protocol.trackedTimings
        or protocol.transport is None
    ):
        return False
    _write_through(protocol.transport, frame)
    return True


def _write_through(socket_transport: Any, data: bytes) -> None:
    """``transport.write(data)``, but straight into the socket when nothing
    is waiting in Twisted's buffer (then nothing can be overtaken): Twisted
    always buffers, and registers and unregisters the socket with the
    event loop's selector around every write (two ``epoll_ctl`` calls),
    which cost more than the ``send`` itself when an event goes to a
    thousand sockets. asyncio's own transports try the send first too.
    What the kernel does not take (or an error, which Twisted then meets
    and handles as it always does) goes through Twisted's buffer."""
    sent = 0
    sock = getattr(socket_transport, "socket", None)
    if (
        sock is not None
        and not getattr(socket_transport, "TLS", False)
        and socket_transport.connected
        and not socket_transport.disconnecting
        and not socket_transport._tempDataLen
        and len(socket_transport.dataBuffer) == socket_transport.offset
    ):
        try:
            sent = sock.send(data)
        except OSError:  # EAGAIN, EINTR, or a reset Twisted will report
            sent = 0
    if sent < len(data):
        socket_transport.write(data[sent:] if sent else data)
