"""Hostile and absurd input gets a 400-class answer with a stable code, never
a 500, and writes nothing (the test client re-raises any server exception)."""

from __future__ import annotations

import pytest

from apps.accounts.models import LedgerEntry, Withdrawal
from apps.orders.models import Order
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, sign_headers, signed

pytestmark = pytest.mark.django_db

ORDER = {"pair": "BTC-USD", "side": "buy", "type": "limit", "price": "63000"}
HUGE = "9" * 30  # 30 digits: a plain decimal, far past BIGINT's 2^63-1


@pytest.fixture
def key(alice):
    return ApiKeyFactory(user=alice, scope="withdraw", ip_allowlist=["127.0.0.1"])


def _nothing_written(user) -> None:
    assert not Order.objects.filter(user=user).exists()
    assert not Withdrawal.objects.filter(user=user).exists()
    assert not LedgerEntry.objects.filter(user=user).exclude(reason="deposit").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ORDER, "side": "sell", "size": "100000000000"}, "size"),
        ({**ORDER, "size": "0.01", "price": HUGE}, "price"),
        ({**ORDER, "size": HUGE}, "size"),
        ({**ORDER, "type": "stop_limit", "size": "0.01", "stop_price": HUGE}, None),
        ({"pair": "BTC-USD", "side": "buy", "type": "market", "funds": HUGE}, "funds"),
        # Each amount fits; their product (the hold) does not.
        ({**ORDER, "price": "90000000000", "size": "90000000000"}, "price x size"),
    ],
    ids=["sell-size", "price", "size", "stop-price", "funds", "product"],
)
def test_amounts_beyond_bigint_are_out_of_range(
    client, funded, alice, key, body, field
):
    response = signed(client, key, "POST", "/v1/orders", body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "VALIDATION_OUT_OF_RANGE"
    if field:
        assert response.json()["error"]["details"]["field"] == field
    _nothing_written(alice)


def test_a_huge_withdrawal_is_out_of_range(client, funded, alice, key):
    body = {"asset": "BTC", "amount": HUGE, "address": "bc1qexampleaddress"}
    response = signed(client, key, "POST", "/v1/withdrawals", body)
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_OUT_OF_RANGE"
    _nothing_written(alice)


@pytest.mark.parametrize(
    "query",
    [
        "since=99999999999999999",
        "until=99999999999999999",
        f"since={10**30}",
        f"cursor={10**30}",
        "limit=" + "9" * 5000,
    ],
)
def test_absurd_list_parameters_are_validation_errors(client, funded, key, query):
    response = signed(client, key, "GET", f"/v1/orders?{query}")
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_ERROR"


def test_absurd_fill_cursor_is_a_validation_error(client, funded, key):
    response = signed(client, key, "GET", f"/v1/fills?cursor={10**30}")
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    "ref", ["client:%00abc", "client:abc%0A", "client:" + "x" * 37]
)
def test_an_impossible_client_order_id_is_not_found(client, funded, key, ref):
    for method, path in (
        ("GET", f"/v1/orders/{ref}"),
        ("POST", f"/v1/orders/{ref}/cancel"),
    ):
        response = signed(client, key, method, path)
        assert response.status_code == 404, (method, response.content)
        assert error_code(response) == "ORDER_NOT_FOUND"


def test_a_limit_of_thousands_of_digits_is_refused_at_the_default_weight(
    client, btc_usd
):
    response = client.get("/v1/trades/BTC-USD?limit=" + "9" * 4301)
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_ERROR"
    assert response["X-RateLimit-Cost"] == "1"


def test_json_nested_too_deeply_is_malformed_json(client, funded, alice, key):
    body = b"[" * 60_000  # under the 64 KiB body limit
    response = client.generic(
        "POST",
        "/v1/orders",
        data=body,
        content_type="application/json",
        headers=sign_headers(key, "POST", "/v1/orders", body),
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_MALFORMED_JSON"
    _nothing_written(alice)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/no-such-endpoint", 404),
        ("/v1/time/", 404),  # no slash-appending redirects under /v1
        ("/v1/health", 200),
        ("/v1/openapi.json", 200),
    ],
)
def test_every_v1_answer_carries_the_rate_limit_headers(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert int(response["X-RateLimit-Limit"]) >= 1
    assert response["X-RateLimit-Cost"] == "0"
    assert {"X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Server-Time"} <= set(
        response.headers
    )


@pytest.mark.urls("tests.core.urls_boom")
def test_a_500_carries_the_rate_limit_headers(client):
    client.raise_request_exception = False
    response = client.get("/v1/boom")
    assert response.status_code == 500
    assert "X-RateLimit-Limit" in response.headers


def test_a_hold_past_bigint_is_out_of_range_on_every_path(
    client, funded, alice, key, monkeypatch
):
    """Only reachable by an operator's absurd deposits: the one-statement path
    writes nothing and hands over to the general path, which refuses."""
    from apps.accounts.models import Balance
    from apps.core.money import MAX_UNITS

    Balance.objects.filter(user=alice, asset=funded.quote).update(
        available=MAX_UNITS, held=MAX_UNITS - 1
    )
    body = {**ORDER, "size": "0.01"}
    response = signed(client, key, "POST", "/v1/orders", body)
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_OUT_OF_RANGE"
    assert not Order.objects.filter(user=alice).exists()
