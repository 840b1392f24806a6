"""The client without a server (httpx.MockTransport), and its independence
from Django."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from exchange.client import ApiError, ExchangeClient, signing

ROOT = Path(__file__).resolve().parents[2]


def _recording_client(answer=None, status=200, headers=None):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = answer if answer is not None else {"ok": True}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers or {})

    client = ExchangeClient(
        "http://exchange.test",
        "hkt_k",
        "s3cret",
        transport=httpx.MockTransport(handler),
    )
    return client, seen


def _verify(request: httpx.Request, secret: str = "s3cret") -> bool:
    expected = signing.sign_request(
        secret=secret,
        key=request.headers["X-Api-Key"],
        method=request.method,
        path=request.url.raw_path.decode(),
        body=request.content,
        timestamp=request.headers["X-Api-Timestamp"],
        nonce=request.headers["X-Api-Nonce"],
    )
    return expected == request.headers["X-Api-Signature"]


def test_client_signs_the_exact_path_query_and_body_it_sends():
    client, seen = _recording_client()
    client.list_orders(pair="BTC-USD", status="open", cursor=None)
    client.transfer(asset="BTC", amount=Decimal("0.50000000"), memo="café ₿")
    get, post = seen
    assert get.url.raw_path == b"/v1/orders?pair=BTC-USD&status=open"
    assert get.content == b""
    assert (
        post.content.decode() == '{"asset":"BTC","amount":"0.50000000","memo":"café ₿"}'
    )
    assert post.headers["Content-Type"] == "application/json"
    assert _verify(get) and _verify(post)
    assert signing.NONCE_RE.match(get.headers["X-Api-Nonce"])
    assert get.headers["X-Api-Nonce"] != post.headers["X-Api-Nonce"]


def test_paths_of_the_thin_methods():
    client, seen = _recording_client()
    client.time()
    client.markets()
    client.ticker("BTC-USD")
    client.orderbook("BTC-USD", depth=50)
    client.trades("BTC-USD")
    client.get_order(42)
    client.cancel_order(42)
    client.cancel_all(pair="BTC-USD")
    client.fills(pair="BTC-USD")
    client.balances()
    client.withdraw(asset="BTC", amount="1", address="bc1q")
    got = [
        (r.method, r.url.raw_path.decode(), "X-Api-Signature" in r.headers)
        for r in seen
    ]
    assert got == [
        ("GET", "/v1/time", False),
        ("GET", "/v1/markets", False),
        ("GET", "/v1/ticker/BTC-USD", False),
        ("GET", "/v1/orderbook/BTC-USD?depth=50", False),
        ("GET", "/v1/trades/BTC-USD", False),
        ("GET", "/v1/orders/42", True),
        ("POST", "/v1/orders/42/cancel", True),
        ("POST", "/v1/orders/cancel-all", True),
        ("GET", "/v1/fills?pair=BTC-USD", True),
        ("GET", "/v1/account/balances", True),
        ("POST", "/v1/withdrawals", True),
    ]


def test_json_numbers_are_decoded_as_decimal_never_float():
    client, _ = _recording_client(answer=b'{"price": 64000.10, "size": 1}')
    assert client.ticker("BTC-USD") == {"price": Decimal("64000.10"), "size": 1}


def test_error_shape_becomes_an_api_error():
    error = {
        "error": {
            "code": "ORDER_PRICE_OFF_TICK",
            "message": "off tick",
            "request_id": "r1",
            "retryable": False,
            "details": {"tick": "0.01"},
        }
    }
    client, _ = _recording_client(answer=error, status=400)
    with pytest.raises(ApiError) as exc:
        client.get_order(1)
    e = exc.value
    assert (e.status, e.code, e.message, e.details, e.retryable, e.request_id) == (
        400,
        "ORDER_PRICE_OFF_TICK",
        "off tick",
        {"tick": "0.01"},
        False,
        "r1",
    )


def test_a_non_json_error_page_is_still_a_typed_error():
    client, _ = _recording_client(answer=b"<html>Bad gateway</html>", status=502)
    with pytest.raises(ApiError) as exc:
        client.time()
    assert (exc.value.status, exc.value.code, exc.value.retryable) == (
        502,
        "HTTP_502",
        True,
    )


def test_clock_offset_follows_x_server_time():
    far_future = signing.now_ms() + 120_000
    client, _ = _recording_client(headers={"X-Server-Time": str(far_future)})
    client.time()
    assert abs(client.clock_offset_ms - 120_000) < 1_000
    client.balances()
    assert abs(client.server_now_ms() - (signing.now_ms() + 120_000)) < 1_000


def test_client_package_imports_no_django():
    """Load exchange.client under a bare ``exchange`` package (the project
    package's __init__ belongs to the server) and list what it pulled in."""
    code = f"""
import sys, types
pkg = types.ModuleType("exchange"); pkg.__path__ = [{str(ROOT / "exchange")!r}]
sys.modules["exchange"] = pkg
import exchange.client, exchange.client.rest, exchange.client.signing, exchange.client.sign_cli
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "rest_framework", "apps"))
print(bad)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_extra_headers_are_sent_and_not_part_of_the_body():
    client, seen = _recording_client()
    client.place_order(
        pair="BTC-USD",
        side="buy",
        type="limit",
        price="1",
        size="1",
        headers={"X-Sandbox-Scenario": "partial_fill"},
    )
    client.faucet()
    client.faucet(asset="BTC", amount="0.5")
    order, top_up, one = seen
    assert order.headers["X-Sandbox-Scenario"] == "partial_fill"
    assert "headers" not in json.loads(order.content)
    assert (top_up.url.raw_path, top_up.content) == (b"/v1/sandbox/faucet", b"")
    assert json.loads(one.content) == {"asset": "BTC", "amount": "0.5"}
    assert all(map(_verify, seen))


def test_a_prefixed_key_signs_with_its_environments_domain():
    for key, domain in (
        ("hkt_test_k", "hkt-sandbox"),
        ("hkt_live_k", "hkt-production"),
    ):
        assert signing.prehash(
            timestamp=1, nonce="n", key=key, method="GET", path="/"
        ).split("\n")[:2] == ["v2", domain]
