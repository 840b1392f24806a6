"""The WebSocket guard under real daphne (and the matcher), through the
process helpers of tests/markets/test_ws_e2e.py: a client that stops reading
is closed 4008 while the server's memory stays bounded and a reading client
misses nothing; connections per address are counted by the server (in Redis
when the run has it); oversized messages and cross-site origins are refused.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.sync.client import connect
from websockets.uri import parse_uri

from apps.orders.consumers import StreamConsumer
from apps.orders.ws_guard.consumer import GuardedConsumerMixin
from tests.markets.test_ws_e2e import (
    PAIR,
    OrderFlow,
    WsClient,
    caught_up,
    exchange,
    log_tail,
    seed_book,
    ws_url,
)
from tests.matching.processes import wait_drained

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MiB = 2**20


# ------------------------------------------------------------------ helpers


def server_pid(base: str) -> int:
    """The pid of our child daphne serving ``base``."""
    port = str(urlsplit(base).port)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if (
            ppid == os.getpid()
            and port.encode() in args
            and any(b"daphne" in a for a in args)
        ):
            return int(entry.name)
    raise AssertionError(f"no daphne child serving {base}")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class StalledClient:
    """A WebSocket client over a raw socket that reads nothing after the
    handshake until told to (websockets' sans-I/O protocol does the framing).
    Its small receive buffer keeps the kernel from absorbing megabytes."""

    def __init__(self, url: str, receive_buffer: int = 4096) -> None:
        uri = parse_uri(url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect((uri.host, uri.port))
        self.protocol = ClientProtocol(uri, max_size=None)
        self.protocol.send_request(self.protocol.connect())
        self.sock.sendall(b"".join(self.protocol.data_to_send()))
        self.frames: list[Frame] = []
        while not any(isinstance(e, Response) for e in self._read_events()):
            pass
        self.sock.setblocking(False)
        self.unsent = b""

    def _read_events(self) -> list[Any]:
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        events = self.protocol.events_received()
        self.frames += [e for e in events if isinstance(e, Frame)]
        return events

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a request and write what the socket takes without waiting
        (a server that stops reading us must not block the test)."""
        self.protocol.send_text(json.dumps(payload).encode())
        self.unsent += b"".join(self.protocol.data_to_send())
        self.flush()

    def flush(self) -> None:
        try:
            sent = self.sock.send(self.unsent)
        except (BlockingIOError, InterruptedError):
            sent = 0
        self.unsent = self.unsent[sent:]

    def read_to_close(self, timeout: float) -> tuple[int, str, int]:
        """Read everything until the server's close frame: (code, reason,
        payload bytes before it); raises if the connection ends without one.

        Walks the frames by their headers alone (a server's frames are
        unmasked, RFC 6455 section 5.2): the sans-I/O protocol would parse
        the ~30,000 pongs in seconds on a busy machine, and the server
        aborts the connection 5 s after its close frame. (Nothing was left
        in the protocol's buffer: the server sent nothing unasked.)"""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MiB)
        self.sock.settimeout(timeout)  # blocking again
        buffer, received = bytearray(), 0
        while True:
            try:
                data = self.sock.recv(MiB)
            except (ConnectionResetError, TimeoutError) as exc:
                raise AssertionError(f"no close frame: {exc!r}") from None
            if not data:
                raise AssertionError("the connection ended without a close frame")
            buffer += data
            while (frame := _server_frame(buffer)) is not None:
                opcode, payload, end = frame
                if opcode == Opcode.CLOSE.value:
                    code = int.from_bytes(payload[:2], "big")
                    return code, payload[2:].decode(), received
                received += len(payload)
                del buffer[:end]

    def close(self) -> None:
        self.sock.close()


def _server_frame(data: bytearray) -> tuple[int, bytes, int] | None:
    """(opcode, payload, end) of the unmasked frame at the start of
    ``data``, or None if it is not all there yet."""
    if len(data) < 2:
        return None
    length, start = data[1] & 0x7F, 2
    if length >= 126:
        size = 2 if length == 126 else 8
        if len(data) < 2 + size:
            return None
        length, start = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
    if len(data) < start + length:
        return None
    return data[0] & 0x0F, bytes(data[start : start + length]), start + length


def answers_ping(url: str, origin: str | None = None) -> bool:
    """Whether a new connection is served (not refused with an error)."""
    ws = connect(url, proxy=None, origin=origin, open_timeout=10)
    try:
        ws.send(json.dumps({"op": "ping", "id": "p"}))
        return json.loads(ws.recv(timeout=10))["type"] == "pong"
    except ConnectionClosed:  # refused (4029) before the ping went out
        return False
    finally:
        try:
            ws.close()
        except ConnectionClosed:
            pass


# ------------------------------------------------------------------ slow readers


def test_a_client_that_stops_reading_is_closed_4008_and_memory_stays_bounded(
    funded, alice, bob, tmp_path, monkeypatch
):
    cap = 1 * MiB
    monkeypatch.setenv("WS_SEND_BUFFER_BYTES", str(cap))
    # The pump below is one client asking faster than any limit allows.
    monkeypatch.setenv("WS_MAX_FRAMES_PER_SECOND", "1000000")
    monkeypatch.setenv("WS_FRAME_BURST", "1000000")
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        pid = server_pid(base)
        reader = WsClient(ws_url(base), "reader")
        stalled = None
        flow = OrderFlow(funded, [alice, bob], ops=300, seed=8)
        try:
            reader.subscribe("r1", "book")
            reader.subscribe("r2", "trades")
            baseline = rss_bytes(pid)
            stalled = StalledClient(ws_url(base))
            stalled.send(
                {"op": "subscribe", "id": "s1", "channel": "book", "pair": PAIR}
            )
            stalled.send(
                {"op": "subscribe", "id": "s2", "channel": "trades", "pair": PAIR}
            )
            flow.start()
            # Never reading, it also keeps pinging: its pongs come to
            # megabytes a second that the server cannot deliver.
            peak, requests, closed_at = baseline, 0, None
            deadline = time.monotonic() + 60
            for turn in itertools.count():
                if closed_at is not None or time.monotonic() > deadline:
                    break
                if len(stalled.unsent) < 65536:
                    stalled.send({"op": "ping", "id": f"{requests:064d}"})
                    requests += 1
                else:  # the server stopped reading us (we are over its queue)
                    time.sleep(0.01)
                    stalled.flush()
                if turn % 20 == 0:
                    peak = max(peak, rss_bytes(pid))
                    if "slow consumer" in log_tail(tmp_path / "daphne.log", 20000):
                        closed_at = time.monotonic()
            assert closed_at is not None, "the stalled client was never closed"
            code, reason, unread = stalled.read_to_close(timeout=4)
            assert (code, reason) == (4008, "slow consumer")
            assert unread > cap, f"closed with only {unread} bytes unread"
            # Nothing more is queued for it: keep sampling for a while.
            while time.monotonic() < closed_at + 2:
                peak = max(peak, rss_bytes(pid))
                time.sleep(0.05)
            growth = peak - baseline
            print(
                f"daphne RSS {baseline / MiB:.1f} MiB -> peak {peak / MiB:.1f} MiB; "
                f"{requests} requests, {unread / MiB:.1f} MiB unread at the close"
            )
            assert growth < cap + 40 * MiB, f"RSS grew {growth / MiB:.1f} MiB"

            flow.finish()
            wait_drained(matcher)
            try:
                caught_up(reader, funded)
            except AssertionError:  # what the reader saw besides book deltas
                for _, m in reader.received:
                    if m["type"] in ("trade", "resync", "error"):
                        print("reader got", m)
                print("reader's first failures", reader.failures[:5])
                raise
            reader.check()  # every delta chained to the one before: no gap
            assert reader.books[PAIR].resyncs == 0
            assert reader.books[PAIR].deltas > 0 and reader.trades[PAIR]
        finally:
            if flow.is_alive():
                flow.join(60)
            reader.close()
            if stalled is not None:
                stalled.close()


# ------------------------------------------------------------------ the edge


def test_connections_per_address_origin_and_message_size_under_daphne(
    funded, tmp_path, monkeypatch
):
    monkeypatch.setenv("WS_MAX_CONNECTIONS_PER_IP", "3")
    monkeypatch.setenv("WS_MAX_FRAME_BYTES", "4096")
    with exchange(tmp_path) as (_matcher, base):
        url = ws_url(base)
        opened = [connect(url, proxy=None, open_timeout=10) for _ in range(3)]
        try:
            fourth = connect(url, proxy=None, open_timeout=10)
            frame = json.loads(fourth.recv(timeout=10))
            assert frame["type"] == "error" and frame["id"] is None, frame
            assert frame["error"]["code"] == "RATE_LIMIT_CONNECTIONS_PER_IP"
            assert frame["error"]["details"] == {"limit": 3, "scope": "ip"}
            with pytest.raises(ConnectionClosed) as closed:
                fourth.recv(timeout=10)
            assert closed.value.rcvd.code == 4029
            assert closed.value.rcvd.reason == "too many connections"
            opened.pop().close()
            deadline = time.monotonic() + 10
            # Served once the server saw the close; a browser page of the
            # site itself may connect too.
            while not answers_ping(url, origin=base):
                assert time.monotonic() < deadline, "the slot never came back"
                time.sleep(0.2)

            with pytest.raises(InvalidStatus) as refused:
                connect(url, proxy=None, origin="https://evil.example", open_timeout=10)
            assert refused.value.response.status_code == 403

            big = opened[0]
            big.send(json.dumps({"op": "ping", "id": "x" * 5000}))
            with pytest.raises(ConnectionClosed) as closed:
                big.recv(timeout=10)
            assert closed.value.rcvd.code == 1009
        finally:
            for ws in opened:
                try:
                    ws.close()
                except ConnectionClosed:
                    pass


@pytest.mark.skipif(
    not issubclass(StreamConsumer, GuardedConsumerMixin),
    reason="the consumer does not call the frame limiter yet",
)
def test_a_frame_flood_is_refused_then_closed_4029_under_daphne(
    funded, tmp_path, monkeypatch
):
    monkeypatch.setenv("WS_MAX_FRAMES_PER_SECOND", "20")
    monkeypatch.setenv("WS_FRAME_BURST", "20")
    with exchange(tmp_path) as (_matcher, base):
        ws = connect(ws_url(base), proxy=None, open_timeout=10)
        answers: list[dict[str, Any]] = []
        sent = 0
        with pytest.raises(ConnectionClosed) as closed:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # ~200 frames a second
                for _ in range(10):
                    ws.send(json.dumps({"op": "ping", "id": f"f{sent}"}))
                    sent += 1
                time.sleep(0.05)
                while True:
                    try:
                        answers.append(json.loads(ws.recv(timeout=0)))
                    except TimeoutError:
                        break
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            4029,
            "frame flood",
        )
        refused = [a for a in answers if a["type"] == "error"]
        pongs = [a for a in answers if a["type"] == "pong"]
        assert {a["error"]["code"] for a in refused} == {"RATE_LIMIT_EXCEEDED"}
        assert all(a["id"].startswith("f") for a in refused)
        # Allowed: the burst, then 20 a second; at ~10 times the rate the
        # refusals of 5 s at 5 times it add up within 3 s or so.
        assert 20 <= len(pongs) <= 20 + 20 * 6, len(pongs)
        assert len(refused) >= 4 * 20 * 5 - 1, len(refused)  # the last closes
