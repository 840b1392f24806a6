"""What apps/orders/ws_guard/transport.py reads of daphne, autobahn and
Twisted, pinned against the installed classes themselves: an upgrade that
moves any of it fails here, not silently in production."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections import deque
from typing import Any

import pytest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet.abstract import FileDescriptor

from apps.markets.stream_wire import text_frame
from apps.orders.ws_guard import transport


class Buffer(FileDescriptor):
    """A Twisted file descriptor that never reaches the reactor."""

    connected = True

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def startWriting(self) -> None:  # no reactor in this test
        pass

    def stopWriting(self) -> None:
        pass

    def writeSomeData(self, data: Any) -> int:
        taken = min(len(data), 1000)
        self.sent += taken
        return taken


def _protocol() -> WebSocketProtocol:
    factory = WebSocketFactory(server_class=None)
    protocol = factory.buildProtocol(None)
    return protocol


def test_daphnes_send_carries_its_websocket_protocol():
    server = Server(application=None, endpoints=["tcp:port=0"])
    protocol = _protocol()
    seen: dict[str, Any] = {}

    async def application(scope: Any, receive: Any, send: Any) -> None:
        seen["send"] = send

    async def scenario() -> None:
        server.application = application
        server.connections = {}
        server.protocol_connected(protocol)
        server.create_application(protocol, {"type": "websocket"})
        await asyncio.sleep(0)
        await server.connections[protocol]["application_instance"]

    asyncio.run(scenario())
    assert transport.daphne_protocol(seen["send"]) is protocol
    assert transport.daphne_protocol(functools.partial(print, "x")) is None
    assert transport.daphne_protocol(lambda message: None) is None


def test_pending_bytes_are_twisteds_unsent_bytes():
    protocol = _protocol()
    protocol.transport = Buffer()
    assert transport.pending_bytes(protocol) == 0
    protocol.transport.write(b"a" * 1500)
    protocol.transport.writeSequence([b"b" * 700, b"c" * 300])
    assert transport.pending_bytes(protocol) == 2500
    protocol.transport.doWrite()  # the kernel takes 1,000
    assert transport.pending_bytes(protocol) == 1500
    protocol.transport.write(b"d" * 10)
    assert transport.pending_bytes(protocol) == 1510
    protocol.transport.doWrite()
    protocol.transport.doWrite()
    assert (transport.pending_bytes(protocol), protocol.transport.sent) == (0, 2510)


def test_pending_bytes_look_through_a_wrapping_transport():
    class Wrapper:  # as twisted.protocols.tls wraps the socket's transport
        def __init__(self, inner: Any) -> None:
            self.transport = inner

    protocol = _protocol()
    protocol.transport = Wrapper(Buffer())
    protocol.transport.transport.write(b"x" * 42)
    assert transport.pending_bytes(protocol) == 42
    protocol.transport = None
    assert transport.pending_bytes(protocol) is None


def test_autobahn_takes_the_size_limit_and_close_options_from_the_protocol():
    protocol = _protocol()
    transport.limit_message_size(protocol, 4096)
    assert (protocol.maxMessagePayloadSize, protocol.maxFramePayloadSize) == (
        4096,
        4096,
    )
    assert protocol.failByDrop is False
    # Options autobahn copies from the factory when the connection is made
    # (before daphne creates the application), then reads on the protocol.
    for name in (
        "maxMessagePayloadSize",
        "maxFramePayloadSize",
        "failByDrop",
        "closeHandshakeTimeout",
    ):
        assert name in protocol.CONFIG_ATTRS, name
    for state, sends in (
        (protocol.STATE_CONNECTING, True),
        (protocol.STATE_OPEN, True),
        (protocol.STATE_CLOSING, False),
        (protocol.STATE_CLOSED, False),
    ):
        protocol.state = state
        assert transport.is_open(protocol) is sends, state


def _open_protocol() -> tuple[WebSocketProtocol, Any]:
    from twisted.internet.testing import StringTransport

    protocol = _protocol()
    # As autobahn sets a connection up (after the handshake, state OPEN).
    protocol.makeConnection(StringTransport())
    protocol.state = protocol.STATE_OPEN
    protocol.transport.clear()
    return protocol, protocol.transport


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_a_ready_made_frame_is_the_bytes_autobahn_sends(size):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    protocol, written = _open_protocol()
    protocol.sendMessage(payload)
    by_autobahn = written.value()
    written.clear()

    assert transport.write_frame(protocol, text_frame(payload)) is True
    assert written.value() == by_autobahn


def test_a_ready_made_frame_is_refused_where_autobahn_would_do_more():
    for change in (
        {"state": WebSocketProtocol.STATE_CLOSING},
        {"state": WebSocketProtocol.STATE_CLOSED},
        {"_perMessageCompress": object()},  # permessage-deflate negotiated
        {"maskServerFrames": True},
        {"autoFragmentSize": 1024},
        {"send_queue": deque([(b"x", True)])},  # chopped writes under way
        {"trackedTimings": object()},
        {"transport": None},
    ):
        protocol, written = _open_protocol()
        for name, value in change.items():
            setattr(protocol, name, value)
        assert transport.write_frame(protocol, text_frame(b"{}")) is False, change
        assert written.value() == b"", change


def test_a_frame_goes_straight_into_the_socket_behind_what_twisted_holds():
    from twisted.internet import tcp

    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(5)
    try:
        protocol, _ = _open_protocol()
        conn = tcp.Connection(ours, protocol)
        conn.startWriting = conn.stopWriting = lambda: None  # no reactor here
        conn.connected = True  # as tcp.Server sets it on an accepted socket
        protocol.transport = conn

        # Nothing waiting in Twisted's buffer: the kernel has it at once.
        assert transport.write_frame(protocol, text_frame(b'{"a":1}'))
        assert transport.pending_bytes(protocol) == 0
        assert peer.recv(100) == text_frame(b'{"a":1}')

        # Bytes waiting in Twisted's buffer go first: the frame queues behind.
        conn.write(b"held")
        assert transport.write_frame(protocol, text_frame(b'{"b":2}'))
        assert transport.pending_bytes(protocol) == 4 + len(text_frame(b'{"b":2}'))
        conn.doWrite()
        assert peer.recv(100) == b"held" + text_frame(b'{"b":2}')

        # What the kernel does not take waits in Twisted's buffer, in order.
        big = text_frame(b"x" * 60_000)
        while True:  # fill the socket's buffer
            try:
                ours.send(b"\0" * 65_536)
            except BlockingIOError:
                break
        assert transport.write_frame(protocol, big)
        assert transport.pending_bytes(protocol) == len(big)
    finally:
        ours.close()
        peer.close()
