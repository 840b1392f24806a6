"""MarketStream against a scripted connection: answers by id, errors, and the
automatic resync of a book (no server)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from exchange.client import ApiError, BookOutOfSync, MarketStream
from exchange.client.ws import ws_url
from tests.client.test_ws_book_unit import PAIR, RESYNC, delta, snapshot


class FakeConnection:
    """Answers each request like the server (ack, pong, or a scripted error)
    and then hands out what ``push`` queued."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.frames: deque[str] = deque()
        self.snapshots: deque[dict[str, Any]] = deque()
        self.errors: dict[str, dict[str, Any]] = {}
        self.closed = False

    def push(self, *msgs: dict[str, Any]) -> None:
        self.frames.extend(json.dumps(m) for m in msgs)

    def send(self, text: str) -> None:
        req = json.loads(text)
        self.sent.append(req)
        if req["op"] in self.errors:
            error = self.errors.pop(req["op"])
            self.push({"type": "error", "id": req["id"], "error": error})
        elif req["op"] == "ping":
            self.push({"type": "pong", "id": req["id"], "server_time": 1})
        else:
            pair = req["pair"].upper()
            self.push(
                {"type": "ack", "id": req["id"], "op": req["op"]}
                | {"channel": req["channel"], "pair": pair}
            )
            if req["op"] == "subscribe" and req["channel"] == "book":
                self.push(self.snapshots.popleft())

    def recv(self, timeout: float | None = None) -> str:
        if not self.frames:
            raise TimeoutError("no frame")
        return self.frames.popleft()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def conn() -> FakeConnection:
    conn = FakeConnection()
    conn.snapshots.append(snapshot(10, bids=[("99", "1")], asks=[("101", "1")]))
    return conn


def ops(conn: FakeConnection) -> list[tuple[str, str | None]]:
    return [(r["op"], r.get("channel")) for r in conn.sent]


def test_the_base_url_leads_to_the_websocket_endpoint():
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/v1/ws"
    assert ws_url("https://x.example/") == "wss://x.example/v1/ws"
    assert ws_url("ws://h:1/v1/ws") == "ws://h:1/v1/ws"


def test_subscribe_book_returns_the_book_in_sync_and_recv_applies_deltas(conn):
    with MarketStream("ws://x", connection=conn) as stream:
        book = stream.subscribe_book("btc-usd", depth=5)
        assert stream.books == {PAIR: book}
        assert (book.in_sync, book.seq, book.depth) == (True, 10, 5)
        assert conn.sent[0] | {"id": None} == {
            "op": "subscribe",
            "id": None,
            "channel": "book",
            "pair": "btc-usd",
            "depth": 5,
        }
        assert stream.recv(1)["type"] == "book_snapshot"
        conn.push(delta(12, 10, ("buy", "100", "2")))
        assert stream.recv(1)["seq"] == 12
        assert book.bids() == [("100", "2"), ("99", "1")]
        with pytest.raises(TimeoutError):
            stream.recv(1)
    assert conn.closed


def test_a_ping_is_answered_by_its_id_and_messages_meanwhile_are_kept(conn):
    stream = MarketStream("ws://x", connection=conn)
    stream.subscribe_trades(PAIR)
    trade = {"type": "trade", "channel": "trades", "pair": PAIR, "trade_seq": 1}
    conn.push(trade)
    assert stream.ping()["server_time"] == 1
    assert stream.recv(1) == trade


def test_an_error_frame_raises_api_error_with_code_message_and_details(conn):
    conn.errors["subscribe"] = {
        "code": "MARKET_NOT_FOUND",
        "message": "No market 'XXX-USD'.",
        "retryable": False,
        "details": {"pair": "XXX-USD"},
    }
    stream = MarketStream("ws://x", connection=conn)
    with pytest.raises(ApiError) as caught:
        stream.subscribe_book("XXX-USD")
    error = caught.value
    assert (error.code, error.message, error.details) == (
        "MARKET_NOT_FOUND",
        "No market 'XXX-USD'.",
        {"pair": "XXX-USD"},
    )
    assert stream.books == {}


def test_a_broken_chain_resubscribes_and_the_new_snapshot_restores_the_book(conn):
    stream = MarketStream("ws://x", connection=conn)
    book = stream.subscribe_book(PAIR)
    conn.snapshots.append(snapshot(40, bids=[("98", "3")], asks=[("101", "1")]))
    conn.push(delta(13, 12, ("buy", "99", "5")))  # 11-12 went missing
    stream.recv(1), stream.recv(1)  # the first snapshot, the broken delta
    assert not book.in_sync
    assert ops(conn)[-2:] == [("unsubscribe", "book"), ("subscribe", "book")]
    assert conn.sent[-1]["depth"] == 100
    # Still in flight on the old subscription: dropped, not handed out.
    conn.frames.appendleft(json.dumps(delta(14, 13, ("buy", "99", "6"))))
    assert stream.recv(1)["seq"] == 40
    assert (book.in_sync, book.seq, book.bids()) == (True, 40, [("98", "3")])
    conn.push(delta(41, 40, ("buy", "98", "0")))
    assert stream.recv(1)["seq"] == 41
    assert (book.gaps, book.snapshots, stream.resubscribes) == (1, 2, 1)


def test_a_heartbeat_naming_another_seq_resubscribes(conn):
    stream = MarketStream("ws://x", connection=conn)
    book = stream.subscribe_book(PAIR)
    conn.snapshots.append(snapshot(50))
    beat = {
        "type": "heartbeat",
        "server_time": 1,
        "subscriptions": [{"channel": "book", "pair": PAIR, "seq": 11}],
    }
    conn.push(beat)
    while stream.recv(1)["type"] != "book_snapshot" or book.seq != 50:
        pass
    assert (book.gaps, stream.resubscribes, book.in_sync) == (1, 1, True)


def test_a_server_resync_waits_for_its_snapshot_without_resubscribing(conn):
    stream = MarketStream("ws://x", connection=conn)
    book = stream.subscribe_book(PAIR)
    stream.recv(1)
    conn.push(RESYNC, snapshot(60, bids=[("97", "1")]))
    assert stream.recv(1)["type"] == "resync"
    assert not book.in_sync
    assert stream.recv(1)["seq"] == 60
    assert (book.in_sync, book.resyncs, book.gaps, stream.resubscribes) == (
        True,
        1,
        0,
        0,
    )
    assert ops(conn) == [("subscribe", "book")]


def test_strict_streams_raise_on_a_gap(conn):
    stream = MarketStream("ws://x", connection=conn, strict=True)
    stream.subscribe_book(PAIR)
    conn.push(delta(13, 12, ("buy", "99", "5")))
    stream.recv(1)
    with pytest.raises(BookOutOfSync):
        stream.recv(1)


def test_unsubscribe_forgets_the_book(conn):
    stream = MarketStream("ws://x", connection=conn)
    stream.subscribe_book(PAIR)
    assert stream.unsubscribe("book", PAIR)["op"] == "unsubscribe"
    assert stream.books == {}


def test_a_trades_resync_is_handed_out_and_leaves_the_book_alone(conn):
    stream = MarketStream("ws://x", connection=conn)
    book = stream.subscribe_book(PAIR)
    stream.subscribe_trades(PAIR)
    stream.recv(1)
    trades_resync = {**RESYNC, "channel": "trades"}
    conn.push(trades_resync, delta(12, 10, ("buy", "100", "2")))
    assert stream.recv(1) == trades_resync
    assert stream.recv(1)["seq"] == 12
    assert (book.in_sync, book.resyncs, book.seq) == (True, 0, 12)


def test_a_refused_resubscribe_forgets_the_book_instead_of_waiting_forever(conn):
    stream = MarketStream("ws://x", connection=conn)
    stream.subscribe_book(PAIR)
    stream.recv(1)
    conn.errors["subscribe"] = {"code": "MARKET_NOT_FOUND", "message": "gone"}
    conn.push(delta(30, 29, ("buy", "100", "2")))  # a broken chain
    with pytest.raises(ApiError) as exc:
        while True:
            stream.recv(1)
    assert exc.value.code == "MARKET_NOT_FOUND"
    assert PAIR not in stream.books


def test_a_checksum_mismatch_resubscribes_and_the_new_snapshot_restores_the_book(
    conn,
):
    stream = MarketStream("ws://x", connection=conn)
    book = stream.subscribe_book(PAIR, depth=10)
    conn.snapshots.append(snapshot(40, bids=[("99", "2")], asks=[("101", "1")]))
    # Chains, but its checksum is not the local book's after it.
    conn.push(delta(12, 10, ("buy", "99", "2")) | {"checksum": 7})
    stream.recv(1), stream.recv(1)
    assert not book.in_sync and book.checksum_failures == 1
    assert ops(conn)[-2:] == [("unsubscribe", "book"), ("subscribe", "book")]
    assert conn.sent[-1]["depth"] == 10
    assert stream.recv(1)["seq"] == 40
    assert (book.in_sync, book.bids(), stream.resubscribes) == (True, [("99", "2")], 1)
