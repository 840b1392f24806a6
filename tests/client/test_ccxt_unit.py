"""The ccxt driver's request signing, error mapping and description, without
a server (tests/client/test_ccxt_live.py drives it against a live one)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ccxt
import pytest

from apps.core.errors import ERRORS, ErrorCode
from exchange.client import signing
from exchange.client.ccxt_driver import EXACT_ERRORS, hkt
from tests.apikeys.test_vectors import VECTORS

KEY = {"apiKey": "hkt_0123456789abcdef0123456789abcdef", "secret": "s3cret-s3cret"}


@pytest.fixture
def ex() -> hkt:
    return hkt(dict(KEY))


def error_body(code: str, **details: object) -> tuple[str, dict]:
    response = {
        "error": {
            "code": code,
            "message": "m",
            "request_id": "r",
            "retryable": False,
            "details": details,
        }
    }
    return json.dumps(response), response


def raise_for(ex: hkt, code: str, **details: object) -> None:
    body, response = error_body(code, **details)
    ex.handle_errors(400, "", "url", "GET", {}, body, response, {}, None)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['method']} {v['path']}")
def test_sign_reproduces_the_documented_vectors(vector, monkeypatch):
    monkeypatch.setattr(signing, "new_nonce", lambda: vector["nonce"])
    ex = hkt({"apiKey": vector["key"], "secret": vector["secret"]})
    monkeypatch.setattr(ex, "milliseconds", lambda: int(vector["timestamp"]))
    target = urlsplit(vector["path"])
    request = ex.sign(
        target.path.removeprefix("/v1/"),
        "private",
        vector["method"],
        dict(parse_qsl(target.query)),
        body=vector["body"] or None,
    )
    assert request["url"] == "http://127.0.0.1:8000" + vector["path"]
    headers = request["headers"]
    assert headers["X-Api-Signature"] == vector["signature"]
    assert (headers["X-Api-Key"], headers["X-Api-Timestamp"]) == (
        vector["key"],
        vector["timestamp"],
    )


def test_post_params_are_sent_and_signed_as_one_json_body(ex):
    request = ex.sign("orders", "private", "POST", {"pair": "BTC-USD", "size": "0.01"})
    assert json.loads(request["body"]) == {"pair": "BTC-USD", "size": "0.01"}
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Api-Signature"] == signing.sign_request(
        secret=KEY["secret"],
        key=KEY["apiKey"],
        method="POST",
        path="/v1/orders",
        body=request["body"].encode("utf-8"),
        timestamp=headers["X-Api-Timestamp"],
        nonce=headers["X-Api-Nonce"],
    )


def test_public_requests_are_not_signed_and_the_base_url_is_configurable():
    ex = hkt({"urls": {"api": {"rest": "https://api.example.test/"}}})
    request = ex.sign("ticker/{pair}", "public", "GET", {"pair": "BTC-USD"})
    assert request["url"] == "https://api.example.test/v1/ticker/BTC-USD"
    assert not any(h.startswith("X-Api-") for h in request["headers"])


def test_signing_timestamp_follows_the_learned_clock_offset(ex):
    with pytest.raises(ccxt.InvalidNonce):
        raise_for(ex, "AUTH_TIMESTAMP_EXPIRED", server_time=ex.milliseconds() + 30_000)
    assert abs(ex.options["timeDifference"] + 30_000) < 1_000
    stamp = int(ex.sign("fills", "private")["headers"]["X-Api-Timestamp"])
    assert abs(stamp - (ex.milliseconds() + 30_000)) < 1_000


def test_every_error_code_maps_to_a_specific_ccxt_class(ex):
    """Each code of the registry raises a class more precise than ccxt's
    ExchangeError: its own (EXACT_ERRORS) or, for a code newer than this
    table, its namespace's."""
    assert set(EXACT_ERRORS) <= set(ErrorCode)
    for code in ERRORS:
        with pytest.raises(ccxt.BaseError) as raised:
            raise_for(ex, code.value)
        assert type(raised.value) is not ccxt.ExchangeError, code
        if code.value in EXACT_ERRORS:
            assert type(raised.value) is EXACT_ERRORS[code.value], code


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ACCOUNT_INSUFFICIENT_FUNDS", ccxt.InsufficientFunds),
        ("ORDER_PRICE_OFF_TICK", ccxt.InvalidOrder),
        ("AUTH_INVALID_SIGNATURE", ccxt.AuthenticationError),
        ("PERMISSION_SCOPE_MISSING", ccxt.PermissionDenied),
        ("RATE_LIMIT_EXCEEDED", ccxt.RateLimitExceeded),
        ("ORDER_NOT_FOUND", ccxt.OrderNotFound),
        ("SYSTEM_OVERLOADED", ccxt.DDoSProtection),
        ("AUTH_NONCE_REUSED", ccxt.InvalidNonce),
        ("SYSTEM_UNAVAILABLE", ccxt.ExchangeNotAvailable),
        ("VALIDATION_ERROR", ccxt.BadRequest),
        ("MARKET_NOT_FOUND", ccxt.BadSymbol),
        ("MARKET_HALTED", ccxt.MarketClosed),
        ("ORDER_CLIENT_ID_CONFLICT", ccxt.DuplicateOrderId),
        ("VALIDATION_UNKNOWN_FIELD", ccxt.BadRequest),
        ("VALIDATION_DUPLICATE_KEY", ccxt.BadRequest),
        ("VALIDATION_INVALID_TYPE", ccxt.BadRequest),
        ("VALIDATION_BODY_TOO_LARGE", ccxt.BadRequest),
        # A code newer than the driver still gets its namespace's class.
        ("VALIDATION_SOMETHING_NEW", ccxt.BadRequest),
        ("ORDER_SOMETHING_NEW", ccxt.InvalidOrder),
        ("PERMISSION_SOMETHING_NEW", ccxt.PermissionDenied),
    ],
)
def test_error_codes_raise_the_ccxt_classes_bots_catch(ex, code, expected):
    with pytest.raises(expected, match=code):
        raise_for(ex, code)


def test_a_body_not_in_our_error_shape_is_left_to_ccxt_http_status_mapping(ex):
    assert (
        ex.handle_errors(502, "Bad Gateway", "u", "GET", {}, "<html>", None, {}, None)
        is None
    )
    assert ex.handle_errors(404, "", "u", "GET", {}, "{}", {}, {}, None) is None
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.handle_http_status_code(502, "Bad Gateway", "u", "GET", "<html>")


def test_an_unreachable_server_is_a_ccxt_network_error():
    ex = hkt({"urls": {"api": {"rest": "http://127.0.0.1:9"}}, "timeout": 2000})
    with pytest.raises(ccxt.NetworkError):
        ex.fetch_time()


IMPLEMENTED = {
    "fetchMarkets": "fetch_markets",
    "fetchTicker": "fetch_ticker",
    "fetchTickers": "fetch_tickers",
    "fetchOrderBook": "fetch_order_book",
    "fetchTrades": "fetch_trades",
    "fetchOHLCV": "fetch_ohlcv",
    "fetchTime": "fetch_time",
    "fetchBalance": "fetch_balance",
    "createOrder": "create_order",
    "createMarketBuyOrderWithCost": "create_market_buy_order_with_cost",
    "editOrder": "edit_order",
    "cancelOrder": "cancel_order",
    "cancelAllOrders": "cancel_all_orders",
    "fetchOrder": "fetch_order",
    "fetchOrders": "fetch_orders",
    "fetchOpenOrders": "fetch_open_orders",
    "fetchClosedOrders": "fetch_closed_orders",
    "fetchCanceledOrders": "fetch_canceled_orders",
    "fetchMyTrades": "fetch_my_trades",
    "fetchOrderTrades": "fetch_order_trades",
}


def test_has_lists_the_unified_methods_this_class_implements(ex):
    for name, method in IMPLEMENTED.items():
        assert ex.has[name] is True, name
        assert method in vars(hkt), method
    for name in ("withdraw", "fetchDeposits", "fetchCurrencies", "margin", "swap"):
        assert not ex.has[name], name
    assert ex.precisionMode == ccxt.TICK_SIZE


def test_each_endpoint_has_ccxt_implicit_methods(ex):
    assert ex.public_get_ticker_pair.__func__ is ex.publicGetTickerPair.__func__
    assert callable(ex.private_post_orders_order_id_cancel)
    assert callable(ex.privatePostOrdersCancelAll)
