"""What apps/orders/ws_guard/transport.py reads of daphne, autobahn and
Twisted, pinned against the installed classes themselves: an upgrade that
moves any of it fails here, not silently in production."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet.abstract import FileDescriptor

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
