"""Strict, predictable input: a body is taken exactly as documented or refused
with its own code, before anything is held or written."""

from __future__ import annotations

import json
import re

import pytest

from apps.accounts.models import LedgerEntry, Withdrawal
from apps.orders.models import Order
from tests.apikeys.helpers import error_code, sign_headers, signed

pytestmark = pytest.mark.django_db

ORDER = {
    "pair": "BTC-USD",
    "side": "buy",
    "type": "limit",
    "price": "63000.00",
    "size": "0.0100",
}


def _nothing_written(user) -> None:
    assert not Order.objects.filter(user=user).exists()
    assert not Withdrawal.objects.filter(user=user).exists()
    assert not LedgerEntry.objects.filter(user=user).exclude(reason="deposit").exists()


def _post_raw(client, key, path: str, body: bytes):
    """POST exactly ``body``, signed over those very bytes."""
    return client.generic(
        "POST",
        path,
        data=body,
        content_type="application/json",
        headers=sign_headers(key, "POST", path, body),
        REMOTE_ADDR="127.0.0.1",
    )


def _body_operations(client) -> list[str]:
    """Every POST path of the spec that takes a JSON body, path parameters
    filled in: batch and amend endpoints are covered once they exist."""
    spec = client.get("/v1/openapi.json").json()
    paths = [
        path
        for path, item in spec["paths"].items()
        if "requestBody" in item.get("post", {})
    ]
    return [re.sub(r"\{[^}]+\}", "client:any-order", p) for p in paths]


def test_every_body_operation_refuses_an_unknown_field(
    client, funded, alice, withdraw_key
):
    paths = _body_operations(client)
    assert {"/v1/orders", "/v1/orders/cancel-all", "/v1/withdrawals"} <= set(paths)
    for path in paths:
        response = signed(client, withdraw_key, "POST", path, {"post_onyl": True})
        assert (response.status_code, error_code(response)) == (
            400,
            "VALIDATION_UNKNOWN_FIELD",
        ), (path, response.content)
        details = response.json()["error"]["details"]
        assert details["fields"] == ["post_onyl"], path
        assert details["allowed"] and "post_onyl" not in details["allowed"], path
    _nothing_written(alice)


def test_an_order_with_a_typo_is_refused_naming_the_field(
    client, funded, alice, trade_key
):
    body = {**ORDER, "post_onyl": True, "client_oder_id": "a"}
    response = signed(client, trade_key, "POST", "/v1/orders", body)
    assert (response.status_code, error_code(response)) == (
        400,
        "VALIDATION_UNKNOWN_FIELD",
    )
    error = response.json()["error"]
    assert error["details"]["fields"] == ["client_oder_id", "post_onyl"]
    assert "post_only" in error["details"]["allowed"]
    assert "post_onyl" in error["message"]
    _nothing_written(alice)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"client_order_id": 123}, "VALIDATION_INVALID_TYPE", "client_order_id"),
        ({"post_only": "true"}, "VALIDATION_INVALID_TYPE", "post_only"),
        ({"post_only": 0}, "VALIDATION_INVALID_TYPE", "post_only"),
        ({"pair": {"symbol": "BTC-USD"}}, "VALIDATION_INVALID_TYPE", "pair"),
        ({"price": 63000}, "VALIDATION_INVALID_DECIMAL", "price"),
        ({"size": 0.01}, "VALIDATION_INVALID_DECIMAL", "size"),
        ({"size": "9" * 40}, "VALIDATION_OUT_OF_RANGE", "size"),
        ({"price": "9" * 5000}, "VALIDATION_OUT_OF_RANGE", "price"),
    ],
)
def test_order_fields_of_the_wrong_kind_are_refused(
    client, funded, alice, trade_key, change, code, field
):
    response = signed(client, trade_key, "POST", "/v1/orders", {**ORDER, **change})
    assert (response.status_code, error_code(response)) == (400, code)
    assert response.json()["error"]["details"]["field"] == field
    _nothing_written(alice)


def test_a_timer_in_a_string_is_refused(client, funded, trade_key):
    response = signed(
        client, trade_key, "POST", "/v1/orders/cancel-all-after", {"timeout_s": "60"}
    )
    assert (response.status_code, error_code(response)) == (
        400,
        "VALIDATION_INVALID_TYPE",
    )
    assert response.json()["error"]["details"] == {
        "field": "timeout_s",
        "expected": "integer",
        "got": "string",
    }


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            b'{"pair":"BTC-USD","side":"buy","type":"limit","price":"63000.00",'
            b'"size":"0.0100","size":"100"}',
            "size",
        ),
        (b'{"pair":"BTC-USD","pair":"BTC-USD"}', "pair"),
        (b'{"pair":"BTC-USD","x":{"a":1,"a":2}}', "a"),
    ],
)
def test_a_repeated_key_is_refused(client, funded, alice, trade_key, body, key):
    response = _post_raw(client, trade_key, "/v1/orders", body)
    assert (response.status_code, error_code(response)) == (
        400,
        "VALIDATION_DUPLICATE_KEY",
    )
    assert response.json()["error"]["details"] == {"key": key}
    _nothing_written(alice)


def test_a_body_over_the_limit_is_413_with_the_limit(client, funded, alice, trade_key):
    body = json.dumps({**ORDER, "client_order_id": "x" * 70_000}).encode()
    response = _post_raw(client, trade_key, "/v1/orders", body)
    assert (response.status_code, error_code(response)) == (
        413,
        "VALIDATION_BODY_TOO_LARGE",
    )
    assert response.json()["error"]["details"] == {"max_bytes": 65536}
    assert response["X-Request-Id"] and response["X-RateLimit-Cost"] == "1"
    _nothing_written(alice)


def test_the_body_limit_is_judged_before_the_signature(client, funded, trade_key):
    body = b" " * 65537
    headers = sign_headers(trade_key, "POST", "/v1/orders", b"")  # wrong bytes
    response = client.post(
        "/v1/orders",
        data=body,
        content_type="application/json",
        headers=headers,
        REMOTE_ADDR="127.0.0.1",
    )
    assert (response.status_code, error_code(response)) == (
        413,
        "VALIDATION_BODY_TOO_LARGE",
    )


def test_a_body_at_the_limit_is_read(client, funded, trade_key):
    """65,536 bytes exactly: parsed (and refused for the unknown field only)."""
    padding = 65536 - len(json.dumps({"p": ""}))
    body = json.dumps({"p": "x" * padding}).encode()
    assert len(body) == 65536
    response = _post_raw(client, trade_key, "/v1/orders", body)
    assert error_code(response) == "VALIDATION_UNKNOWN_FIELD"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unknown_v1_path_is_404_in_the_error_shape(client, db, method):
    response = client.generic(method, "/v1/no-such-endpoint")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert error["request_id"] == response["X-Request-Id"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/orders", {"GET", "POST"}),
        ("PUT", "/v1/orders/cancel-all", {"POST"}),
        ("GET", "/v1/withdrawals", {"POST"}),
        ("POST", "/v1/markets", {"GET"}),
    ],
)
def test_a_method_a_path_lacks_is_405_even_unsigned(client, db, method, path, allow):
    """The method is judged before the signature: no credentials needed to
    learn what the public spec says."""
    response = client.generic(method, path)
    assert response.status_code == 405
    assert error_code(response) == "METHOD_NOT_ALLOWED"
    assert allow <= {m.strip() for m in response["Allow"].split(",")}
    assert response["X-Request-Id"] and "X-RateLimit-Limit" in response.headers
