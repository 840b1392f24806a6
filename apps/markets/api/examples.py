"""Example answers for the OpenAPI document, from a real session: 0.004 BTC
traded at 63,000 (at 07:04:41.350Z), a 0.25 ask at 63,010.50 and bids at
63,000 and 62,990.
tests/core/test_openapi_examples.py checks each has the fields the endpoint
really returns."""

from __future__ import annotations

from apps.core.api.schema import answer_example

MARKETS = answer_example(
    "Markets",
    "BTC-USD's rules",
    {
        "markets": [
            {
                "symbol": "BTC-USD",
                "base": "BTC",
                "quote": "USD",
                "status": "trading",
                "tick_size": "0.010000",
                "lot_size": "0.00010000",
                "min_size": "0.00010000",
                "min_notional": "1.000000",
                "maker_fee_bps": 10,
                "taker_fee_bps": 20,
                "price_band_bps": 500,
            }
        ]
    },
)

TICKER = answer_example(
    "Ticker",
    "After one trade of 0.004 BTC at 63,000",
    {
        "pair": "BTC-USD",
        "last_price": "63000.000000",
        "last_size": "0.00400000",
        "best_bid": "63000.000000",
        "best_bid_size": "0.00600000",
        "best_ask": "63010.500000",
        "best_ask_size": "0.25000000",
        "open": "63000.000000",
        "high": "63000.000000",
        "low": "63000.000000",
        "close": "63000.000000",
        "change": "0.000000",
        "change_percent": "0.00",
        "base_volume": "0.00400000",
        "quote_volume": "252.000000",
        "market_cap": "1247400000000.000000",
        "sequence": 5,
        "server_time": 1795676681359,
    },
)

ORDERBOOK = answer_example(
    "OrderBook",
    "depth=3: [price, size] levels, best first",
    {
        "pair": "BTC-USD",
        "sequence": 5,
        "bids": [["63000.000000", "0.00600000"], ["62990.000000", "0.50000000"]],
        "asks": [["63010.500000", "0.25000000"]],
        "server_time": 1795676681362,
    },
)

TRADES = answer_example(
    "Trades",
    "Newest first",
    {
        "pair": "BTC-USD",
        "trades": [
            {
                "seq": 1,
                "price": "63000.000000",
                "size": "0.00400000",
                "taker_side": "buy",
                "time": "2026-11-26T07:04:41.350Z",
                "ts": 1795676681350,
            }
        ],
    },
)

CANDLES = answer_example(
    "Candles",
    "interval=1m: the trade's minute, then a minute without trades",
    {
        "pair": "BTC-USD",
        "interval": "1m",
        "candles": [
            {
                "start": "2026-11-26T07:04:00.000Z",
                "start_ts": 1795676640000,
                "open": "63000.000000",
                "high": "63000.000000",
                "low": "63000.000000",
                "close": "63000.000000",
                "volume": "0.00400000",
                "quote_volume": "252.000000",
                "trades": 1,
                "closed": True,
            },
            {
                "start": "2026-11-26T07:05:00.000Z",
                "start_ts": 1795676700000,
                "open": "63000.000000",
                "high": "63000.000000",
                "low": "63000.000000",
                "close": "63000.000000",
                "volume": "0.00000000",
                "quote_volume": "0.000000",
                "trades": 0,
                "closed": False,
            },
        ],
        "server_time": 1795676712345,
    },
)
