"""MarketStream's ticker and candles subscriptions against a scripted
connection (no server)."""

from __future__ import annotations

from exchange.client import MarketStream
from tests.client.test_ws_stream_unit import FakeConnection

CANDLE = {
    "type": "candle",
    "channel": "candles",
    "pair": "BTC-USD",
    "interval": "5m",
    "seq": 12,
    "start": "2026-11-26T07:00:00.000Z",
    "start_ts": 1795676400000,
    "open": "63000.000000",
    "high": "63000.000000",
    "low": "63000.000000",
    "close": "63000.000000",
    "volume": "0.00400000",
    "quote_volume": "252.000000",
    "trades": 1,
    "closed": False,
}


def test_ticker_and_candles_subscriptions_are_asked_and_handed_out_by_recv():
    conn = FakeConnection()
    with MarketStream("ws://x", connection=conn) as stream:
        ack = stream.subscribe_ticker("btc-usd")
        assert (ack["type"], ack["channel"], ack["pair"]) == (
            "ack",
            "ticker",
            "BTC-USD",
        )
        stream.subscribe_candles("BTC-USD", "5m")
        assert [{k: v for k, v in r.items() if k != "id"} for r in conn.sent] == [
            {"op": "subscribe", "channel": "ticker", "pair": "btc-usd"},
            {"op": "subscribe", "channel": "candles", "pair": "BTC-USD"}
            | {"interval": "5m"},
        ]
        conn.push(CANDLE)
        assert stream.recv(0) == CANDLE  # decimal strings stay strings
        stream.unsubscribe("candles", "BTC-USD", interval="5m")
        stream.unsubscribe("ticker", "BTC-USD")
        assert conn.sent[2] | {"id": None} == {
            "op": "unsubscribe",
            "id": None,
            "channel": "candles",
            "pair": "BTC-USD",
            "interval": "5m",
        }
        assert "interval" not in conn.sent[3]
