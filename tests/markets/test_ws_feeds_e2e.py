"""The ticker and candles channels end to end: daphne and the matcher as real
processes (tests/markets/test_ws_e2e.py's), orders through the service
across a minute boundary, and WebSocket clients (a protocol-checking one and
the Python client) whose candles end equal to ``GET /v1/candles`` and to
candles built from the trades table, and whose ticker ends equal to
``GET /v1/ticker`` (SQLite with the journal poller, or PostgreSQL with
Redis fan-out, whichever the run has)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from apps.core.api.formats import from_unix_ms, unix_ms
from apps.markets.api.serializers import CandleOutputSerializer
from apps.markets.candles import build_candles
from apps.markets.models import MarketEvent
from apps.orders.models import Trade
from exchange.client import MarketStream
from tests.markets.test_ws_e2e import (
    PAIR,
    OrderFlow,
    WsClient,
    exchange,
    seed_book,
    ws_url,
)
from tests.matching.processes import wait_drained

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

M = 60_000
STREAM_ONLY = ("type", "channel", "pair", "interval", "seq")
NOT_FIGURES = ("type", "channel", "seq", "sequence", "server_time")


class FeedClient(WsClient):
    """A client of the ticker and candles channels that checks each message
    as it comes: acks name the interval, candle and ticker messages carry a
    ``seq`` that never goes back, a closed candle never changes, and each
    heartbeat lists the subscriptions with the last ``seq`` sent on each."""

    def __init__(self, url: str, name: str = "feeds") -> None:
        self.feeds: set[tuple[str, str, str | None]] = set()
        self.candles: dict[str, list[dict[str, Any]]] = {}
        self.tickers: list[dict[str, Any]] = []
        super().__init__(url, name)

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind in ("pong", "ack", "error"):
            if kind == "ack":
                key = (msg["channel"], msg["pair"], msg.get("interval"))
                assert (key[0] == "candles") == (key[2] is not None), msg
                if msg["op"] == "subscribe":
                    assert key not in self.feeds, f"second ack for {key}"
                    self.feeds.add(key)
                    if key[2] is not None:
                        self.candles.setdefault(key[2], [])
                else:
                    self.feeds.discard(key)
            self.replies.append(msg)
        elif kind == "candle":
            self._candle(msg)
        elif kind == "ticker":
            assert ("ticker", msg["pair"], None) in self.feeds, msg
            if self.tickers:
                assert msg["seq"] >= self.tickers[-1]["seq"], msg
            assert msg["seq"] == msg["sequence"], msg
            self.tickers.append(msg)
        elif kind == "heartbeat":
            self._beat(msg)
        else:
            raise AssertionError(f"unexpected message: {msg}")

    def _candle(self, msg: dict[str, Any]) -> None:
        key = ("candles", msg["pair"], msg["interval"])
        assert key in self.feeds, f"unsubscribed candle: {msg}"
        received = self.candles[msg["interval"]]
        if received:
            assert msg["seq"] >= received[-1]["seq"], (msg, received[-1])
            assert msg["start_ts"] >= received[-1]["start_ts"] or msg["closed"], msg
        for earlier in received:
            if earlier["start_ts"] == msg["start_ts"] and earlier["closed"]:
                assert _figures(msg) == _figures(earlier), (earlier, msg)
        received.append(msg)

    def _beat(self, msg: dict[str, Any]) -> None:
        subs = msg["subscriptions"]
        listed = {(s["channel"], s["pair"], s.get("interval")) for s in subs}
        assert len(listed) == len(subs) and listed == self.feeds, msg
        for sub in subs:
            # Never older than what came (it may name a message on its way).
            assert sub["seq"] >= self.last_seq(sub), (sub, msg)
        self.heartbeats.append(msg)

    def last_seq(self, sub: dict[str, Any]) -> int:
        """The seq of the last message received on a heartbeat's entry."""
        got = (
            self.tickers
            if sub["channel"] == "ticker"
            else self.candles[sub["interval"]]
        )
        return got[-1]["seq"] if got else 0


def _figures(candle: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in candle.items() if k != "seq"}


def latest_per_bucket(candles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last message of each bucket, oldest first, as REST lists them."""
    last: dict[int, dict[str, Any]] = {}
    for m in candles:
        last[m["start_ts"]] = {k: v for k, v in m.items() if k not in STREAM_ONLY}
    return [last[k] for k in sorted(last)]


def rest_candles(base: str, start: int) -> tuple[list[dict[str, Any]], int]:
    response = httpx.get(
        f"{base}/v1/candles/{PAIR}", params={"interval": "1m", "start": start}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["candles"], body["server_time"]


def candles_from_trades_table(pair, start: int, now: int) -> list[dict[str, Any]]:
    """build_candles over every Trade row (their created_at in Unix ms)."""
    rows = [
        (unix_ms(t.created_at), t.price, t.size, t.quote)
        for t in Trade.objects.filter(pair=pair).order_by("seq")
    ]
    candles = build_candles(rows, interval_ms=M, start=start, end=now + 1, now=now)
    return CandleOutputSerializer(candles, many=True, context={"pair": pair}).data


def rest_ticker(base: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/v1/ticker/{PAIR}")
    assert response.status_code == 200, response.text
    return response.json()


def sleep_until(unix_ms_at: int) -> None:
    time.sleep(max(0.0, unix_ms_at / 1000 - time.time()))


class Reader(threading.Thread):
    """Reads the Python client's stream (it reads only when asked: a
    stream left unread for long stalls its socket) and keeps its messages."""

    def __init__(self, stream: MarketStream) -> None:
        super().__init__(daemon=True)
        self.stream, self.messages = stream, []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.messages.append(self.stream.recv(0.2))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return

    def stop(self) -> list[dict[str, Any]]:
        self.done.set()
        self.join(10)
        return self.messages


def test_candles_and_ticker_streams_end_equal_to_rest_and_the_trades_table(
    funded, alice, bob, tmp_path, monkeypatch
):
    monkeypatch.setenv("WS_TICKER_MS", "200")
    monkeypatch.setenv("WS_CANDLE_CLOSE_MS", "300")
    with exchange(tmp_path) as (matcher, base):
        seed_book(funded, alice, bob)
        wait_drained(matcher)
        client = FeedClient(ws_url(base))
        stream = MarketStream(base)
        flows: list[OrderFlow] = []
        reader = None
        try:
            ack = client.request(
                op="subscribe", id="c1", channel="candles", pair=PAIR, interval="1m"
            )
            assert (ack["channel"], ack["interval"]) == ("candles", "1m"), ack
            client.request(
                op="subscribe", id="c5", channel="candles", pair=PAIR, interval="5m"
            )
            client.request(op="subscribe", id="t", channel="ticker", pair=PAIR)
            stream.subscribe_candles(PAIR, "1m")
            stream.subscribe_ticker(PAIR)
            reader = Reader(stream)
            reader.start()
            # Trades now, then across the next minute's start: its first
            # trade (or the clock) closes the candle before it.
            flows.append(OrderFlow(funded, [alice, bob], ops=60, seed=11))
            flows[-1].start()
            flows[-1].finish()
            boundary = (time.time_ns() // 1_000_000 // M + 1) * M
            sleep_until(boundary - 1_500)
            after = Trade.objects.filter(created_at__gte=from_unix_ms(boundary))
            seed = 12
            while time.time() * 1000 < boundary + 1_500 or not after.exists():
                assert time.time() * 1000 < boundary + 30_000, "no trade after it"
                flows.append(OrderFlow(funded, [alice, bob], ops=30, seed=seed))
                flows[-1].start()
                flows[-1].finish()
                wait_drained(matcher)
                seed += 1
            assert Trade.objects.filter(created_at__lt=from_unix_ms(boundary)).exists()
            last_trade = Trade.objects.order_by("-seq").first()
            last_seq = MarketEvent.objects.order_by("-seq").first().seq

            # The forming candle catches up with the last trade.
            def forming_done() -> bool:
                got = client.candles["1m"]
                return (
                    bool(got)
                    and got[-1]["close"] == funded.format_price(last_trade.price)
                    and got[-1]["start_ts"] >= boundary
                )

            client.wait_for("the last trade's candle", forming_done, 15)
            time.sleep(0.6)  # ticker throttle (200 ms) and a last read
            seen = len(client.heartbeats)
            client.wait_for("a heartbeat", lambda: len(client.heartbeats) > seen, 5)
            client.check()
            with client.cond:  # quiet now: the heartbeat names the last sent
                for sub in client.heartbeats[-1]["subscriptions"]:
                    assert sub["seq"] == client.last_seq(sub) > 0, sub

            with client.cond:
                ws = latest_per_bucket(client.candles["1m"])
                five = latest_per_bucket(client.candles["5m"])
                ticker = dict(client.tickers[-1])
            first = ws[0]["start_ts"]
            rest, server_time = rest_candles(base, first)
            assert server_time < boundary + M - 1_000, "compared within the minute"
            assert ws == rest
            assert ws == candles_from_trades_table(funded, first, server_time)
            closed = [c for c in ws if c["start_ts"] < boundary]
            assert closed and all(c["closed"] for c in closed)
            assert ws[-1]["start_ts"] == boundary and not ws[-1]["closed"]
            assert sum(c["trades"] for c in ws) >= 2
            five_rest = httpx.get(
                f"{base}/v1/candles/{PAIR}",
                params={"interval": "5m", "start": five[0]["start_ts"]},
            ).json()["candles"]
            assert five == five_rest

            # The ticker: the last message is REST's, figure for figure.
            rest_t = rest_ticker(base)
            assert ticker["last_price"] == funded.format_price(last_trade.price)
            assert {k: v for k, v in ticker.items() if k not in NOT_FIGURES} == {
                k: v for k, v in rest_t.items() if k not in NOT_FIGURES
            }
            assert ticker["seq"] <= last_seq

            # The Python client saw the same.
            time.sleep(0.5)
            got = reader.stop()
            mine = latest_per_bucket([m for m in got if m["type"] == "candle"])
            assert mine == rest[-len(mine) :]
            tickers = [m for m in got if m["type"] == "ticker"]
            assert tickers[-1]["last_price"] == rest_t["last_price"]
            print(  # docs/websocket.md shows real messages
                "examples:",
                ack,
                [c for c in client.candles["1m"] if c["closed"]][-1],
                client.candles["1m"][-1],
                client.tickers[-1],
                client.heartbeats[-1],
                sep="\n",
            )
        finally:
            for flow in flows:
                if flow.is_alive():
                    flow.join(60)
            if reader is not None:
                reader.stop()
            stream.close()
            client.close()
