"""The public WebSocket streams end to end: daphne and the matcher as real
processes, real WebSocket clients, orders placed through the service while
clients keep books from snapshot + deltas (on whichever database the run has:
SQLite with the journal poller, or PostgreSQL with Redis fan-out)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.db import connection
from django.db.models import F, Max, Sum
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from apps.markets.models import MarketEvent, Pair
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, OrderStatus, Trade
from exchange.client import MarketStream
from tests.helpers import place
from tests.markets.ws_book import LocalBook
from tests.matching.processes import (  # noqa: F401  (re-exported to other e2e tests)
    exchange,
    free_port,
    log_tail,
    wait_drained,
)

PAIR = "BTC-USD"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


# ------------------------------------------------------------------ processes


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/ws"


# ------------------------------------------------------------------ the client


class WsClient:
    """A WebSocket client of the public streams. A thread reads every frame
    and checks it against the protocol as it comes: book messages are applied
    to a LocalBook (which checks the prev_seq chain), trades must have
    consecutive trade_seq, heartbeats must list exactly the subscriptions and
    the last seq sent on each. Protocol breaks are collected; ``check()``
    raises the first."""

    def __init__(self, url: str, name: str = "client") -> None:
        self.name = name
        self.ws = connect(
            url, proxy=None, open_timeout=10, close_timeout=2, max_size=2**24
        )
        self.cond = threading.Condition()
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.replies: list[dict[str, Any]] = []
        self.requests: dict[Any, dict[str, Any]] = {}
        self.subscribed: set[tuple[str, str]] = set()
        self.books: dict[str, LocalBook] = {}
        self.snapshot_seqs: dict[str, list[int]] = {}
        self.trades: dict[str, list[dict[str, Any]]] = {}
        self.heartbeats: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    # -- reading

    def _read(self) -> None:
        try:
            for raw in self.ws:
                with self.cond:
                    try:
                        msg = json.loads(raw)
                        self.received.append((time.monotonic(), msg))
                        self._handle(msg)
                    except (AssertionError, KeyError, TypeError, ValueError) as exc:
                        self.failures.append(f"{type(exc).__name__}: {exc}")
                    self.cond.notify_all()
        except ConnectionClosed as exc:
            with self.cond:
                self.failures.append(f"connection closed: {exc}")
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind in ("pong", "ack", "error"):
            if kind == "ack":
                key = (msg["channel"], msg["pair"])
                if msg["op"] == "subscribe":
                    assert key not in self.subscribed, f"second ack for {key}"
                    self.subscribed.add(key)
                    if key[0] == "book":
                        depth = self.requests.get(msg["id"], {}).get("depth", 100)
                        self.books[key[1]] = LocalBook(key[1], depth)
                        self.snapshot_seqs[key[1]] = []
                    else:
                        self.trades.setdefault(key[1], [])
                elif msg["op"] == "unsubscribe":
                    self.subscribed.discard(key)
            self.replies.append(msg)
        elif kind in ("book_snapshot", "book_delta", "resync"):
            pair = msg.get("pair")
            assert ("book", pair) in self.subscribed, f"unsubscribed book msg: {msg}"
            self.books[pair].apply(msg)
            if kind == "book_snapshot":
                self.snapshot_seqs[pair].append(msg["seq"])
        elif kind == "trade":
            self._trade(msg)
        elif kind == "heartbeat":
            self._heartbeat(msg)
        else:
            raise AssertionError(f"unknown message type: {msg}")

    def _trade(self, msg: dict[str, Any]) -> None:
        pair = msg["pair"]
        assert msg["channel"] == "trades", msg
        assert ("trades", pair) in self.subscribed, f"unsubscribed trade: {msg}"
        assert msg["taker_side"] in ("buy", "sell"), msg
        assert all(isinstance(msg[k], int) for k in ("seq", "trade_seq", "ts")), msg
        assert all(isinstance(msg[k], str) for k in ("price", "size")), msg
        received = self.trades[pair]
        if received:
            last = received[-1]
            assert msg["trade_seq"] == last["trade_seq"] + 1, (
                f"trade_seq {msg['trade_seq']} after {last['trade_seq']}"
            )
            assert msg["seq"] > last["seq"], f"trade seq {msg['seq']} after {last}"
        received.append(msg)

    def _heartbeat(self, msg: dict[str, Any]) -> None:
        assert isinstance(msg["server_time"], int), msg
        subs = msg["subscriptions"]
        listed = {(s["channel"], s["pair"]) for s in subs}
        assert len(listed) == len(subs), f"a subscription listed twice: {msg}"
        assert listed == self.subscribed, (
            f"heartbeat lists {sorted(listed)}, subscribed {sorted(self.subscribed)}"
        )
        for sub in subs:
            if sub["channel"] == "book":
                book = self.books[sub["pair"]]
                if not book.awaiting_snapshot:
                    assert sub["seq"] == book.seq, (
                        f"heartbeat says book seq {sub['seq']}, last sent {book.seq}"
                    )
            elif self.trades.get(sub["pair"]):
                last = self.trades[sub["pair"]][-1]["seq"]
                assert sub["seq"] == last, (
                    f"heartbeat says trades seq {sub['seq']}, last sent {last}"
                )
        self.heartbeats.append(msg)

    # -- waiting

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float) -> Any:
        with self.cond:
            found = self.cond.wait_for(
                lambda: predicate() or self.failures or self.closed, timeout
            )
            self.check()
            if not found or not predicate():
                tail = [m for _, m in self.received[-5:]]
                raise AssertionError(
                    f"{self.name}: no {what} within {timeout} s; last messages {tail}"
                )
            return found

    def check(self) -> None:
        with self.cond:
            if self.failures:
                raise AssertionError(
                    f"{self.name}: {self.failures[0]} "
                    f"({len(self.failures)} protocol failures)"
                )

    # -- sending

    def send(self, payload: dict[str, Any]) -> None:
        with self.cond:
            self.requests[payload.get("id")] = payload
        self.ws.send(json.dumps(payload))

    def reply(self, request_id: Any, timeout: float = 10) -> dict[str, Any]:
        """The next pong/ack/error answering ``request_id`` (None: id null)."""

        def answered() -> dict[str, Any] | None:
            for msg in self.replies:
                if msg.get("id") == request_id:
                    return msg
            return None

        msg = self.wait_for(f"reply to id {request_id!r}", answered, timeout)
        with self.cond:
            self.replies.remove(msg)
        return msg

    def request(self, **payload: Any) -> dict[str, Any]:
        self.send(payload)
        return self.reply(payload.get("id"))

    def subscribe(self, request_id: str, channel: str, **fields: Any) -> None:
        ack = self.request(
            op="subscribe", id=request_id, channel=channel, pair=PAIR, **fields
        )
        expected = {
            "type": "ack",
            "id": request_id,
            "op": "subscribe",
            "channel": channel,
            "pair": PAIR,
        }
        assert {k: ack.get(k) for k in expected} == expected, ack
        if channel == "book":
            self.wait_for(
                "book_snapshot", lambda: not self.books[PAIR].awaiting_snapshot, 10
            )

    def close(self) -> None:
        self.ws.close()
        self.reader.join(timeout=5)


def error_code(reply: dict[str, Any], request_id: Any) -> str:
    """The code of an error reply, checking the error frame's shape."""
    assert reply["type"] == "error", reply
    assert reply["id"] == request_id, reply
    error = reply["error"]
    assert isinstance(error["message"], str) and error["message"], reply
    assert isinstance(error["details"], dict), reply
    return error["code"]


# ------------------------------------------------------------------ the market


def seed_book(pair: Pair, alice, bob) -> None:
    """Ten resting levels a side around 63,000 (not crossing)."""
    for k in range(1, 11):
        place(alice, pair, side="buy", price=str(63000 - k), size="0.002")
        place(bob, pair, side="sell", price=str(63000 + k), size="0.002")


class OrderFlow(threading.Thread):
    """Seeded random placements and cancels on ``pair``, some crossing (so
    trades happen); ``halfway`` is set after half the operations."""

    def __init__(self, pair: Pair, users: list, ops: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.pair, self.users, self.ops = pair, users, ops
        self.rng = random.Random(seed)
        self.halfway = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        rng, placed = self.rng, []
        try:
            for i in range(self.ops):
                if i == self.ops // 2:
                    self.halfway.set()
                if placed and rng.random() < 0.25:
                    order_cancel(order=placed.pop(rng.randrange(len(placed))))
                else:
                    side = rng.choice(["buy", "sell"])
                    # Buys up to 63,004 and sells down to 62,996 cross the
                    # other side's best levels now and then.
                    offset = rng.randint(-20, 4)
                    price = 63000 + (offset if side == "buy" else -offset)
                    size = f"{rng.randint(1, 30) / 10_000:.4f}"
                    placed.append(
                        place(
                            rng.choice(self.users),
                            self.pair,
                            side=side,
                            price=str(price),
                            size=size,
                        )
                    )
                time.sleep(rng.uniform(0.005, 0.02))
        except BaseException as exc:  # noqa: BLE001 - the test re-raises it
            self.error = exc
        finally:
            self.halfway.set()
            connection.close()

    def finish(self, timeout: float = 120) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the order flow did not finish"
        if self.error is not None:
            raise self.error


def last_book_seq(pair: Pair) -> int:
    events = MarketEvent.objects.filter(pair=pair, type="book")
    return events.aggregate(m=Max("seq"))["m"] or 0


def last_trade_seq(pair: Pair) -> int:
    return Trade.objects.filter(pair=pair).aggregate(m=Max("seq"))["m"] or 0


def rest_book(base: str, depth: int = 100) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/v1/orderbook/{PAIR}", params={"depth": depth}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def db_book(pair: Pair, depth: int = 100) -> dict[str, list[list[str]]]:
    """The top ``depth`` levels of the live limit orders, in the REST
    answer's format."""
    rows = (
        Order.objects.filter(
            pair=pair,
            type="limit",
            status__in=[OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED],
        )
        .values("side", "price")
        .annotate(left=Sum(F("size") - F("filled_size")))
    )
    levels: dict[str, list[tuple[int, int]]] = {"buy": [], "sell": []}
    for row in rows:
        if row["left"]:
            levels[row["side"]].append((row["price"], row["left"]))

    def fmt(side: list[tuple[int, int]]) -> list[list[str]]:
        return [[pair.format_price(p), pair.format_size(s)] for p, s in side][:depth]

    return {
        "bids": fmt(sorted(levels["buy"], reverse=True)),
        "asks": fmt(sorted(levels["sell"])),
    }


def caught_up(client: WsClient, pair: Pair) -> None:
    """Wait (after the matcher drained) until the client's book is the
    database's top ``depth`` and its trades at the last trade, then for a
    heartbeat that names the last book message the client applied. (A
    depth-N subscription is sent only the events that change its window, so
    its last seq may be before the journal's last book event.)"""
    trade_seq = last_trade_seq(pair)
    book = client.books[pair.symbol]
    expected = db_book(pair, book.depth)
    trades = client.trades.get(pair.symbol)

    def done() -> bool:
        trades_done = trades is None or (
            bool(trades) and trades[-1]["trade_seq"] == trade_seq
        )
        return book.levels(book.depth) == expected and trades_done

    client.wait_for(f"the database's book and trade_seq {trade_seq}", done, 15)

    def beat_names_the_book() -> bool:
        for beat in client.heartbeats[seen:]:
            for sub in beat["subscriptions"]:
                if sub["channel"] == "book" and sub["seq"] == book.seq:
                    return True
        return False

    seen = len(client.heartbeats)
    client.wait_for("a heartbeat naming the book's seq", beat_names_the_book, 5)
    assert book.seq <= last_book_seq(pair)


def assert_trades_match_db(client: WsClient, pair: Pair, after: int, upto: int) -> None:
    """The trades received are consecutive and are, in order, the pair's Trade
    rows from the first received on; the first is one committed after the
    subscription was asked for (trade_seq > ``after``) and no later than the
    first committed after its ack (<= ``upto`` + 1)."""
    received = client.trades[pair.symbol]
    assert received, "no trade arrived after the subscription"
    first = received[0]["trade_seq"]
    assert after < first <= upto + 1, (after, first, upto)
    assert [t["trade_seq"] for t in received] == list(
        range(first, first + len(received))
    )
    rows = Trade.objects.filter(pair=pair, seq__gte=first).order_by("seq")
    expected = [
        (t.seq, pair.format_price(t.price), pair.format_size(t.size), t.taker_side)
        for t in rows
    ]
    got = [(t["trade_seq"], t["price"], t["size"], t["taker_side"]) for t in received]
    assert got == expected
    for msg, row in zip(received, rows, strict=True):
        assert abs(msg["ts"] - row.created_at.timestamp() * 1000) < 5000, (msg, row)


# ------------------------------------------------------------------ the tests


def test_book_stream_rebuilds_the_book_while_orders_flow(funded, alice, bob, tmp_path):
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        flow = OrderFlow(funded, [alice, bob], ops=150, seed=20240611)
        flow.start()
        client = None
        try:
            assert flow.halfway.wait(60)
            client = WsClient(ws_url(base))
            book_before = last_book_seq(funded)
            client.subscribe("b1", "book", depth=100)
            trades_before = last_trade_seq(funded)
            client.subscribe("t1", "trades")
            trades_acked = last_trade_seq(funded)
            flow.finish()
            wait_drained(matcher)
            caught_up(client, funded)
            client.check()

            book = client.books[PAIR]
            assert client.snapshot_seqs[PAIR][0] >= book_before
            assert book.snapshots == 1 + book.resyncs
            assert book.deltas > 0, "the flow went on after the subscription"
            local = book.levels(100)
            assert local["bids"] and local["asks"]
            rest = rest_book(base)
            assert rest["sequence"] >= book.seq
            assert local == {"bids": rest["bids"], "asks": rest["asks"]}
            assert local == db_book(funded)
            assert_trades_match_db(client, funded, trades_before, trades_acked)
        finally:
            if flow.is_alive():
                flow.join(60)
            if client is not None:
                client.close()


def test_ping_errors_and_unsubscribe(funded, alice, bob, tmp_path):
    with exchange(tmp_path) as (matcher, base):
        client = WsClient(ws_url(base))
        try:
            pong = client.request(op="ping", id="1")
            assert (pong["type"], pong["id"]) == ("pong", "1"), pong
            assert isinstance(pong["server_time"], int)
            assert abs(pong["server_time"] - time.time() * 1000) < 60_000

            client.ws.send("{not json")
            assert error_code(client.reply(None), None) == "VALIDATION_MALFORMED_JSON"
            cases = [
                ({"op": "dance", "id": "2"}, "VALIDATION_ERROR"),
                (
                    {"op": "subscribe", "id": "3", "channel": "nope", "pair": PAIR},
                    "VALIDATION_ERROR",
                ),
                (
                    {
                        "op": "subscribe",
                        "id": "4",
                        "channel": "book",
                        "pair": "NOPE-USD",
                    },
                    "MARKET_NOT_FOUND",
                ),
                (
                    {"op": "subscribe", "id": "5", "channel": "book", "pair": PAIR}
                    | {"depth": 101},
                    "VALIDATION_ERROR",
                ),
                (
                    {"op": "subscribe", "id": "5b", "channel": "book", "pair": PAIR}
                    | {"depth": 0},
                    "VALIDATION_ERROR",
                ),
            ]
            for payload, code in cases:
                assert error_code(client.request(**payload), payload["id"]) == code
            client.send({"op": "subscribe", "channel": "book", "pair": PAIR})
            assert error_code(client.reply(None), None) == "VALIDATION_ERROR"
            assert client.subscribed == set(), "a refused subscribe was acked"

            client.subscribe("6", "book")
            assert client.books[PAIR].depth == 100
            duplicate = client.request(
                op="subscribe", id="7", channel="book", pair=PAIR, depth=10
            )
            assert error_code(duplicate, "7") == "VALIDATION_ERROR"
            error = duplicate["error"]
            assert (
                "already" in (error["message"] + json.dumps(error["details"])).lower()
            )
            pong = client.request(op="ping", id="8")
            assert pong["type"] == "pong", pong
            client.subscribe("9", "trades")

            place(alice, funded, side="sell", price="63005", size="0.01")
            client.wait_for(
                "the ask at 63005",
                lambda: "63005.000000" in client.books[PAIR].asks,
                10,
            )
            seq_before = client.books[PAIR].seq
            ack = client.request(op="unsubscribe", id="10", channel="book", pair=PAIR)
            expected = {"type": "ack", "id": "10", "op": "unsubscribe"}
            assert {k: ack.get(k) for k in expected} == expected, ack
            assert (ack.get("channel"), ack.get("pair")) == ("book", PAIR), ack
            with client.cond:
                since = len(client.received)
            unsubscribed_at = time.monotonic()

            place(bob, funded, side="buy", price="63005", size="0.004")
            client.wait_for("the trade", lambda: client.trades[PAIR], 10)
            (trade,) = client.trades[PAIR]
            assert (trade["price"], trade["size"], trade["taker_side"]) == (
                "63005.000000",
                "0.00400000",
                "buy",
            )
            wait_drained(matcher)
            assert last_book_seq(funded) > seq_before, "the book did change"
            time.sleep(max(0.0, unsubscribed_at + 1.0 - time.monotonic()))
            client.wait_for(
                "a heartbeat after the unsubscribe",
                lambda: any(
                    m["type"] == "heartbeat" for _, m in client.received[since:]
                ),
                5,
            )
            with client.cond:
                after = [m for _, m in client.received[since:]]
            assert not [m for m in after if m["type"].startswith("book")], after
            for msg in after:
                if msg["type"] == "heartbeat":
                    assert [s["channel"] for s in msg["subscriptions"]] == ["trades"]
            assert client.request(op="ping", id="11")["type"] == "pong"
            client.check()
        finally:
            client.close()


def test_two_clients_see_the_same_book(funded, alice, bob, tmp_path):
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        first = WsClient(ws_url(base), "first")
        second = None
        flow = OrderFlow(funded, [alice, bob], ops=80, seed=77)
        try:
            first.subscribe("a", "book")
            flow.start()
            assert flow.halfway.wait(60)
            second = WsClient(ws_url(base), "second")
            second.subscribe("b", "book", depth=100)
            flow.finish()
            wait_drained(matcher)
            for client in (first, second):
                caught_up(client, funded)
                client.check()
            first_seq, second_seq = (c.snapshot_seqs[PAIR][0] for c in (first, second))
            assert first_seq < second_seq, "subscribed at different moments"
            books = [c.books[PAIR] for c in (first, second)]
            assert all(b.deltas > 0 for b in books)
            assert books[0].seq == books[1].seq
            rest = rest_book(base)
            assert books[0].levels(100) == books[1].levels(100)
            assert books[0].levels(100) == {"bids": rest["bids"], "asks": rest["asks"]}
            assert books[0].levels(100) == db_book(funded)
        finally:
            if flow.is_alive():
                flow.join(60)
            for client in (first, second):
                if client is not None:
                    client.close()


def test_python_client_follows_the_book_and_resyncs_itself(
    funded, alice, bob, tmp_path
):
    """exchange.client's MarketStream, subscribed mid-flow, ends equal to REST;
    a chain broken on purpose is repaired by its automatic resubscribe."""
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        flow = OrderFlow(funded, [alice, bob], ops=150, seed=4242)
        flow.start()
        try:
            assert flow.halfway.wait(60)
            with MarketStream(base) as stream:
                assert stream.ping()["type"] == "pong"
                book = stream.subscribe_book(PAIR.lower(), depth=100)
                assert book.in_sync and stream.books == {PAIR: book}
                stream.subscribe_trades(PAIR)
                trades: list[dict[str, Any]] = []
                # Forget a delta: the next one no longer chains.
                while book.deltas == 0:
                    stream.recv(10)
                book.seq -= 1
                flow.finish()
                wait_drained(matcher)
                target = last_book_seq(funded)
                while not (book.in_sync and book.seq == target):
                    msg = stream.recv(15)
                    if msg["type"] == "trade":
                        trades.append(msg)
                assert (book.gaps, stream.resubscribes) == (1, 1)
                assert book.snapshots == 2 + book.resyncs
                rest = rest_book(base)
                assert rest["sequence"] >= book.seq
                assert book.levels(100) == {"bids": rest["bids"], "asks": rest["asks"]}
                assert book.levels(100) == db_book(funded)
                while not trades or trades[-1]["trade_seq"] < last_trade_seq(funded):
                    msg = stream.recv(15)
                    if msg["type"] == "trade":
                        trades.append(msg)
                seqs = [t["trade_seq"] for t in trades]
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        finally:
            if flow.is_alive():
                flow.join(60)


def test_depth_windows_stay_the_exact_top_n_while_orders_flow(
    funded, alice, bob, tmp_path
):
    """Clients at depths 5, 25 and 100 subscribe at different moments of the
    flow; each message's checksum agrees with the client's book (ws_book
    checks it, and that no side grows past the depth), and each book ends
    equal to GET /v1/orderbook?depth=N and to the database's top N."""
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        flow = OrderFlow(funded, [alice, bob], ops=160, seed=5_25_100)
        clients: dict[int, WsClient] = {}
        try:
            clients[5] = WsClient(ws_url(base), "depth 5")
            clients[5].subscribe("d5", "book", depth=5)
            flow.start()
            assert flow.halfway.wait(60)
            for depth in (25, 100):
                clients[depth] = WsClient(ws_url(base), f"depth {depth}")
                clients[depth].subscribe(f"d{depth}", "book", depth=depth)
                time.sleep(0.3)
            flow.finish()
            wait_drained(matcher)
            for depth, client in clients.items():
                caught_up(client, funded)
                client.check()
                book = client.books[PAIR]
                assert book.deltas > 0
                assert book.checksums == book.snapshots + book.deltas
                rest = rest_book(base, depth)
                assert book.levels(depth) == {
                    "bids": rest["bids"],
                    "asks": rest["asks"],
                }
                assert book.levels(depth) == db_book(funded, depth)
                assert len(rest["bids"]) <= depth and len(rest["asks"]) <= depth
            # The seed's ten levels a side and the flow's make more than five:
            # the depth-5 window really is a window.
            assert len(db_book(funded, 100)["bids"]) > 5
        finally:
            if flow.is_alive():
                flow.join(60)
            for client in clients.values():
                client.close()


class Tampering:
    """A client socket that loses, on its way in, one change of the first
    book delta (the checksum must catch it), then the first whole book delta
    after the next snapshot (the prev_seq chain must catch it)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.changes_lost = self.deltas_lost = self.snapshots = 0

    def send(self, text: str) -> None:
        self.ws.send(text)

    def close(self) -> None:
        self.ws.close()

    def recv(self, timeout: float | None = None) -> str:
        while True:
            raw = self.ws.recv(timeout=timeout)
            msg = json.loads(raw)
            if msg.get("type") == "book_snapshot":
                self.snapshots += 1
            elif msg.get("type") == "book_delta":
                if not self.changes_lost:
                    self.changes_lost += 1
                    msg["changes"] = msg["changes"][1:]
                    return json.dumps(msg)
                if self.snapshots == 2 and not self.deltas_lost:
                    self.deltas_lost += 1
                    continue
            return raw


def test_python_client_catches_a_lost_change_and_a_lost_message_and_recovers(
    funded, alice, bob, tmp_path
):
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        flow = OrderFlow(funded, [alice, bob], ops=150, seed=31337)
        flow.start()
        try:
            assert flow.halfway.wait(60)
            socket_ = Tampering(
                connect(ws_url(base), proxy=None, open_timeout=10, close_timeout=2)
            )
            with MarketStream(base, connection=socket_) as stream:
                book = stream.subscribe_book(PAIR, depth=5)
                while flow.is_alive():  # read while the book moves
                    try:
                        stream.recv(0.2)
                    except TimeoutError:
                        pass
                flow.finish()
                wait_drained(matcher)
                expected = db_book(funded, 5)
                deadline = time.monotonic() + 20
                while not (book.in_sync and book.levels(5) == expected):
                    assert time.monotonic() < deadline, (book, book.last_error)
                    try:
                        stream.recv(0.5)
                    except TimeoutError:
                        pass
                assert (socket_.changes_lost, socket_.deltas_lost) == (1, 1)
                assert (book.checksum_failures, book.gaps) == (1, 2)
                assert stream.resubscribes == 2
                assert book.snapshots == 3 + book.resyncs
                rest = rest_book(base, 5)
                assert book.levels(5) == {"bids": rest["bids"], "asks": rest["asks"]}
        finally:
            if flow.is_alive():
                flow.join(60)
