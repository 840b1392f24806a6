"""Public market data over REST: markets, ticker, order book, trades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Account, Tier
from apps.markets.api.serializers import percent_change
from apps.markets.models import MarketEvent
from apps.markets.selectors import orderbook_snapshot
from apps.orders.models import Trade
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed
from tests.factories import AssetFactory, PairFactory
from tests.helpers import place

# These URLs first, then the project's (so this holds before and after the
# lead mounts apps.markets.api.urls in exchange/api_urls.py).
pytestmark = pytest.mark.django_db


def _get(client, url):
    response = client.get(url)
    assert response.status_code < 500, response.content
    return response


@pytest.fixture
def eth_btc(btc):
    eth = AssetFactory(
        code="ETH", name="Ether", scale=8, circulating_supply=120_400_000
    )
    return PairFactory(
        symbol="ETH-BTC",
        base=eth,
        quote=btc,
        tick_size=1_000,
        lot_size=100_000,
        min_size=100_000,
        min_notional=10_000,
    )


@pytest.fixture
def traded(funded, alice, bob, matcher):
    """Three trades (62000 x 0.5, 63000 x 0.25, 61000 x 0.1) and a resting book:
    bids 60000 (0.2 + 0.3), 59000 x 1; asks 65000 x 0.4, 66000 x 0.1."""
    for price, size in (("62000", "0.5"), ("63000", "0.25"), ("61000", "0.1")):
        place(alice, funded, side="sell", price=price, size=size)
        place(bob, funded, side="buy", price=price, size=size)
        matcher()
    place(bob, funded, side="buy", price="60000", size="0.2")
    place(bob, funded, side="buy", price="60000", size="0.3")
    place(bob, funded, side="buy", price="59000", size="1")
    place(alice, funded, side="sell", price="65000", size="0.4")
    place(alice, funded, side="sell", price="66000", size="0.1")
    matcher()
    return funded


def _max_seq(pair) -> int:
    return max(MarketEvent.objects.filter(pair=pair).values_list("seq", flat=True))


# ------------------------------------------------------------------ /markets


def test_market_list_gives_every_pair_in_decimal_strings(client, btc_usd, eth_btc):
    response = _get(client, "/v1/markets")
    assert response.status_code == 200
    assert response["X-RateLimit-Cost"] == "1"
    markets = response.json()["markets"]
    assert [m["symbol"] for m in markets] == ["BTC-USD", "ETH-BTC"]
    assert markets[0] == {
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
    assert markets[1]["tick_size"] == "0.00001000"
    assert markets[1]["min_notional"] == "0.00010000"


def test_market_list_is_empty_without_pairs(client, db):
    assert _get(client, "/v1/markets").json() == {"markets": []}


# ------------------------------------------------------------------ /ticker


def test_ticker_of_an_empty_market_is_nulls_not_errors(client, btc_usd):
    response = _get(client, "/v1/ticker/BTC-USD")
    assert response.status_code == 200
    body = response.json()
    for field in (
        "last_price",
        "last_size",
        "best_bid",
        "best_bid_size",
        "best_ask",
        "best_ask_size",
        "open",
        "high",
        "low",
        "close",
        "change",
        "change_percent",
        "market_cap",
    ):
        assert body[field] is None, field
    assert (body["base_volume"], body["quote_volume"]) == ("0.00000000", "0.000000")
    assert body["sequence"] == 0
    assert isinstance(body["server_time"], int)
    assert response["X-RateLimit-Cost"] == "1"


def test_ticker_reports_last_trade_book_and_24h_window(client, traded):
    Trade.objects.filter(seq=1).update(created_at=timezone.now() - timedelta(hours=25))
    body = _get(client, "/v1/ticker/btc-usd").json()
    assert body["pair"] == "BTC-USD"
    assert (body["last_price"], body["last_size"]) == ("61000.000000", "0.10000000")
    assert (body["best_bid"], body["best_bid_size"]) == ("60000.000000", "0.50000000")
    assert (body["best_ask"], body["best_ask_size"]) == ("65000.000000", "0.40000000")
    # The 62000 trade is 25 hours old: outside the window.
    assert (body["open"], body["high"], body["low"], body["close"]) == (
        "63000.000000",
        "63000.000000",
        "61000.000000",
        "61000.000000",
    )
    assert body["change"] == "-2000.000000"
    assert body["change_percent"] == "-3.17"  # -3.1746...
    assert body["base_volume"] == "0.35000000"
    assert body["quote_volume"] == "21850.000000"  # 15,750 + 6,100
    assert body["market_cap"] == "1207800000000.000000"  # 61,000 x 19.8M BTC
    assert body["sequence"] == _max_seq(traded)


def test_ticker_without_trades_in_24h_keeps_last_price_and_nulls_the_window(
    client, traded
):
    Trade.objects.update(created_at=timezone.now() - timedelta(days=2))
    body = _get(client, "/v1/ticker/BTC-USD").json()
    assert body["last_price"] == "61000.000000"
    assert [
        body[k] for k in ("open", "high", "low", "close", "change", "change_percent")
    ] == [None] * 6
    assert (body["base_volume"], body["quote_volume"]) == ("0.00000000", "0.000000")


def test_ticker_market_cap_is_null_without_a_known_supply(client, traded):
    traded.base.circulating_supply = 0
    traded.base.save()
    assert _get(client, "/v1/ticker/BTC-USD").json()["market_cap"] is None


@pytest.mark.parametrize(
    ("open_", "close", "expected"),
    [
        (63000, 61000, "-3.17"),
        (3, 4, "33.33"),
        (100, 100, "0.00"),
        (1, 3, "200.00"),
        # exact halves go to the even neighbour
        (20000, 20001, "0.00"),
        (20000, 20003, "0.02"),
        (20000, 20005, "0.02"),
        (20000, 19997, "-0.02"),
        (20000, 19999, "-0.00"),
    ],
)
def test_change_percent_rounds_half_to_even(open_, close, expected):
    assert percent_change(open_, close) == expected.replace("-0.00", "0.00")


def test_ticker_of_unknown_pair_is_market_not_found(client, db):
    response = _get(client, "/v1/ticker/DOGE-USD")
    assert (response.status_code, error_code(response)) == (404, "MARKET_NOT_FOUND")


# ------------------------------------------------------------------ /orderbook


def test_orderbook_aggregates_levels_best_first_with_its_sequence(client, traded):
    response = _get(client, "/v1/orderbook/BTC-USD")
    assert response.status_code == 200
    body = response.json()
    assert body["bids"] == [
        ["60000.000000", "0.50000000"],
        ["59000.000000", "1.00000000"],
    ]
    assert body["asks"] == [
        ["65000.000000", "0.40000000"],
        ["66000.000000", "0.10000000"],
    ]
    assert body["sequence"] == _max_seq(traded)
    assert response["X-RateLimit-Cost"] == "1"


def test_orderbook_depth_cuts_each_side(client, traded):
    body = _get(client, "/v1/orderbook/BTC-USD?depth=1").json()
    assert body["bids"] == [["60000.000000", "0.50000000"]]
    assert body["asks"] == [["65000.000000", "0.40000000"]]


def test_orderbook_leaves_out_pending_orders_and_untriggered_stops(
    client, traded, alice, bob
):
    place(
        bob, traded, side="buy", price="64000", size="0.1"
    )  # pending: matcher not run
    body = _get(client, "/v1/orderbook/BTC-USD").json()
    assert body["bids"][0][0] == "60000.000000"


def test_orderbook_leaves_out_untriggered_stop_limits(client, traded, alice, matcher):
    stop = place(
        alice,
        traded,
        side="sell",
        type="stop_limit",
        stop_price="50000",
        price="50000",
        size="0.1",
    )
    matcher()
    stop.refresh_from_db()
    assert (stop.status, stop.triggered_at) == ("open", None)
    assert stop.priority is not None
    body = _get(client, "/v1/orderbook/BTC-USD").json()
    assert [level[0] for level in body["asks"]] == ["65000.000000", "66000.000000"]


def test_orderbook_of_empty_market_has_no_levels(client, btc_usd):
    body = _get(client, "/v1/orderbook/BTC-USD").json()
    assert (body["bids"], body["asks"], body["sequence"]) == ([], [], 0)


def test_orderbook_snapshot_is_one_sql_statement(traded):
    with CaptureQueriesContext(connection) as queries:
        book = orderbook_snapshot(pair=traded, depth=100)
    assert len(queries) == 1
    assert "UNION ALL" in queries[0]["sql"]
    assert book.sequence == _max_seq(traded)
    assert book.bids == [(6_000_000, 5_000), (5_900_000, 10_000)]


def test_orderbook_snapshot_without_a_depth_reads_every_level_in_one_statement(
    traded,
):
    with CaptureQueriesContext(connection) as queries:
        whole = orderbook_snapshot(pair=traded, depth=None)
    assert len(queries) == 1 and "LIMIT" not in queries[0]["sql"]
    top = orderbook_snapshot(pair=traded, depth=1)
    assert whole.sequence == top.sequence == _max_seq(traded)
    assert whole.bids == [(6_000_000, 5_000), (5_900_000, 10_000)]
    assert whole.bids[:1] == top.bids and whole.asks[:1] == top.asks


@pytest.mark.parametrize(
    "depth", ["abc", "0", "-1", "101", "1.5", "", "1e3", "99999999999"]
)
def test_orderbook_bad_depth_unsigned_is_validation_error(client, btc_usd, depth):
    response = _get(client, f"/v1/orderbook/BTC-USD?depth={depth}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"]["max_depth"] == 100
    assert response["X-RateLimit-Cost"] == "1"


@pytest.fixture
def verified_key(alice):
    Account.objects.filter(user=alice).update(tier=Tier.VERIFIED)
    return ApiKeyFactory(user=alice, scope="read", weight_per_minute=6_000)


@pytest.mark.parametrize(
    ("depth", "weight"),
    [
        ("1", "1"),
        ("100", "1"),
        ("101", "5"),
        ("500", "5"),
        ("501", "10"),
        ("1000", "10"),
    ],
)
def test_orderbook_signed_by_verified_account_goes_to_1000_weighted_by_depth(
    client, traded, verified_key, depth, weight
):
    response = signed(
        client, verified_key, "GET", f"/v1/orderbook/BTC-USD?depth={depth}"
    )
    assert response.status_code == 200, response.content
    assert response["X-RateLimit-Cost"] == weight
    assert response["X-RateLimit-Limit"] == "6000"  # the key's budget, not the IP's


@pytest.mark.parametrize("tier", [Tier.MARKET_MAKER])
def test_orderbook_depth_1000_for_market_makers(client, traded, alice, tier):
    Account.objects.filter(user=alice).update(tier=tier)
    key = ApiKeyFactory(user=alice, scope="read")
    response = signed(client, key, "GET", "/v1/orderbook/BTC-USD?depth=1000")
    assert response.status_code == 200


def test_orderbook_depth_above_1000_is_refused_even_signed(
    client, btc_usd, verified_key
):
    response = signed(client, verified_key, "GET", "/v1/orderbook/BTC-USD?depth=1001")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"] == {"field": "depth", "max_depth": 1000}


def test_orderbook_above_100_unsigned_is_refused(client, btc_usd):
    response = _get(client, "/v1/orderbook/BTC-USD?depth=500")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    error = response.json()["error"]
    assert error["details"] == {
        "field": "depth",
        "max_depth": 100,
        "verified_max_depth": 1000,
    }
    assert "verified" in error["message"] and "1,000" in error["message"]


def test_orderbook_above_100_for_unverified_account_is_refused(client, btc_usd, alice):
    key = ApiKeyFactory(user=alice, scope="read")
    response = signed(client, key, "GET", "/v1/orderbook/BTC-USD?depth=500")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"]["max_depth"] == 100


def test_orderbook_with_a_key_header_gets_every_signature_check(
    client, btc_usd, verified_key
):
    bad = signed(
        client,
        verified_key,
        "GET",
        "/v1/orderbook/BTC-USD",
        headers={"X-Api-Signature": "0" * 64},
    )
    assert (bad.status_code, error_code(bad)) == (401, "AUTH_INVALID_SIGNATURE")
    partial = client.get(
        "/v1/orderbook/BTC-USD", headers={"X-Api-Key": verified_key.key}
    )
    assert (partial.status_code, error_code(partial)) == (401, "AUTH_MISSING_HEADERS")
    first = signed(
        client, verified_key, "GET", "/v1/orderbook/BTC-USD", nonce="fixednonce1"
    )
    again = signed(
        client, verified_key, "GET", "/v1/orderbook/BTC-USD", nonce="fixednonce1"
    )
    assert first.status_code == 200
    assert (again.status_code, error_code(again)) == (401, "AUTH_NONCE_REUSED")
    old = signed(client, verified_key, "GET", "/v1/orderbook/BTC-USD", timestamp=1)
    assert (old.status_code, error_code(old)) == (401, "AUTH_TIMESTAMP_EXPIRED")


def test_orderbook_signed_from_a_foreign_ip_is_refused(client, btc_usd, alice):
    key = ApiKeyFactory(user=alice, scope="read", ip_allowlist=["10.1.2.3"])
    response = signed(client, key, "GET", "/v1/orderbook/BTC-USD")
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_IP_NOT_ALLOWED",
    )


def test_orderbook_of_unknown_pair_is_market_not_found(client, db):
    response = _get(client, "/v1/orderbook/NOPE-USD")
    assert (response.status_code, error_code(response)) == (404, "MARKET_NOT_FOUND")


# ------------------------------------------------------------------ /trades


def test_trades_newest_first_with_iso_and_ms_times(client, traded):
    response = _get(client, "/v1/trades/BTC-USD")
    assert response.status_code == 200
    assert response["X-RateLimit-Cost"] == "1"
    trades = response.json()["trades"]
    assert [(t["seq"], t["price"], t["size"], t["taker_side"]) for t in trades] == [
        (3, "61000.000000", "0.10000000", "buy"),
        (2, "63000.000000", "0.25000000", "buy"),
        (1, "62000.000000", "0.50000000", "buy"),
    ]
    trade = Trade.objects.get(pair=traded, seq=3)
    first = trades[0]
    assert first["time"].endswith("Z") and len(first["time"]) == len(
        "2026-01-01T00:00:00.000Z"
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert first["ts"] == (trade.created_at - epoch) // timedelta(milliseconds=1)
    assert (
        first["time"][:23]
        == trade.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
    )


def test_trades_limit_and_weight(client, traded):
    response = _get(client, "/v1/trades/BTC-USD?limit=2")
    assert [t["seq"] for t in response.json()["trades"]] == [3, 2]
    assert response["X-RateLimit-Cost"] == "1"
    heavy = _get(client, "/v1/trades/BTC-USD?limit=1000")
    assert heavy.status_code == 200
    assert heavy["X-RateLimit-Cost"] == "5"
    assert _get(client, "/v1/trades/BTC-USD?limit=100")["X-RateLimit-Cost"] == "1"


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-5", "2.0", ""])
def test_trades_bad_limit_is_validation_error(client, btc_usd, limit):
    response = _get(client, f"/v1/trades/BTC-USD?limit={limit}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"]["max_limit"] == 1000


def test_trades_of_empty_market_is_an_empty_list(client, btc_usd):
    assert _get(client, "/v1/trades/BTC-USD").json() == {
        "pair": "BTC-USD",
        "trades": [],
    }


def test_trades_of_unknown_pair_is_market_not_found(client, db):
    response = _get(client, "/v1/trades/XXX-YYY")
    assert (response.status_code, error_code(response)) == (404, "MARKET_NOT_FOUND")


# ------------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    "symbol",
    [
        "%00",
        "BTC%00USD",
        "a" * 200,
        "%F0%9F%92%A5",
        "..",
        "BTC-USD%20",
        "%25",
        "' OR 1=1 --",
    ],
)
@pytest.mark.parametrize("endpoint", ["ticker", "orderbook", "trades", "candles"])
def test_no_symbol_gives_a_500(client, btc_usd, endpoint, symbol):
    response = _get(client, f"/v1/{endpoint}/{symbol}")
    assert response.status_code == 404
    assert error_code(response) == "MARKET_NOT_FOUND"


UNKNOWN, REPEATED = "VALIDATION_UNKNOWN_PARAM", "VALIDATION_DUPLICATE_PARAM"


@pytest.mark.parametrize(
    ("query", "refused_by", "elsewhere"),
    [
        ("depth=%00", {"orderbook"}, UNKNOWN),
        ("depth=%F0%9F%92%A5", {"orderbook"}, UNKNOWN),
        ("depth=1&depth=2", set(), REPEATED),  # before any value is read
        ("limit=%00", {"trades", "candles"}, UNKNOWN),
        ("depth=" + "9" * 50, {"orderbook"}, UNKNOWN),
        ("%00=1", set(), UNKNOWN),
    ],
)
def test_no_query_gives_a_500(client, btc_usd, query, refused_by, elsewhere):
    """A bad value of an endpoint's own parameter is 400 VALIDATION_ERROR;
    another endpoint's parameter is unknown there, a repeated one refused
    (tests/core/test_strict_query.py): each a 400 with its code, never a 500."""
    for endpoint in ("orderbook", "trades", "candles"):
        response = _get(client, f"/v1/{endpoint}/BTC-USD?{query}")
        assert response.status_code == 400, endpoint
        expected = "VALIDATION_ERROR" if endpoint in refused_by else elsewhere
        assert error_code(response) == expected, endpoint


def test_every_response_carries_request_id_and_server_time(client, btc_usd):
    for url in (
        "/v1/markets",
        "/v1/ticker/BTC-USD",
        "/v1/orderbook/BTC-USD",
        "/v1/trades/BTC-USD",
        "/v1/candles/BTC-USD",
        "/v1/ticker/NOPE",
    ):
        response = _get(client, url)
        assert response["X-Request-Id"] and response["X-Server-Time"].isdigit()


def test_post_is_method_not_allowed(client, btc_usd):
    response = client.post("/v1/markets")
    assert (response.status_code, error_code(response)) == (405, "METHOD_NOT_ALLOWED")
