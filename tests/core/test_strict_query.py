"""Strict query strings: a parameter given twice, or one the operation does
not declare, is refused with its own code on every endpoint, before the
handler reads any parameter; the declarations are the spec's."""

from __future__ import annotations

import re

import pytest
from django.urls import resolve

from apps.orders.models import Order
from tests.apikeys.helpers import error_code, signed
from tests.helpers import LIMIT_BUY

pytestmark = pytest.mark.django_db


def _refused_for(response, param: str) -> None:
    assert (response.status_code, error_code(response)) == (
        400,
        "VALIDATION_DUPLICATE_PARAM",
    ), response.content
    assert response.json()["error"]["details"] == {"param": param}
    assert response["X-Request-Id"] and response["X-RateLimit-Cost"]


def test_a_repeated_pair_on_the_order_list_is_refused_naming_it(
    client, funded, read_key
):
    path = "/v1/orders?pair=BTC-USD&pair=ETH-USD"
    _refused_for(signed(client, read_key, "GET", path), "pair")


def test_a_repeated_depth_on_the_public_book_is_refused_naming_it(client, funded):
    response = client.get("/v1/orderbook/BTC-USD?depth=10&depth=20")
    _refused_for(response, "depth")


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("depth=10&depth=10", "depth"),  # the same value twice: still ambiguous
        ("dep%74h=10&depth=20", "depth"),  # judged by the decoded name
        ("depth=10&x=1&x=2&limit=1&limit=2", "x"),  # the first repeated one
        ("depth=&depth=", "depth"),
    ],
)
def test_a_repeat_is_judged_by_name_whatever_the_values(client, funded, query, param):
    _refused_for(client.get(f"/v1/orderbook/BTC-USD?{query}"), param)


def test_the_same_parameters_once_each_still_work(client, funded, alice, read_key):
    place = signed(client, read_key, "GET", "/v1/orders?pair=BTC-USD&limit=5")
    assert place.status_code == 200, place.content
    book = client.get("/v1/orderbook/BTC-USD?depth=10")
    assert book.status_code == 200, book.content


def test_a_signed_book_request_with_a_repeat_is_refused_after_its_checks(
    client, funded, read_key
):
    path = "/v1/orderbook/BTC-USD?depth=10&depth=1000"
    _refused_for(signed(client, read_key, "GET", path), "depth")
    bad = signed(client, read_key, "GET", path, headers={"X-Api-Signature": "0" * 64})
    assert error_code(bad) == "AUTH_INVALID_SIGNATURE"


def test_an_order_with_a_repeated_query_parameter_is_not_placed(
    client, funded, alice, trade_key
):
    response = signed(client, trade_key, "POST", "/v1/orders?a=1&a=2", LIMIT_BUY)
    _refused_for(response, "a")
    assert not Order.objects.filter(user=alice).exists()


def test_every_operation_refuses_a_repeated_parameter(client, funded, withdraw_key):
    spec = client.get("/v1/openapi.json").json()
    tried = 0
    for template, item in spec["paths"].items():
        if template == "/v1/health":
            continue
        path = re.sub(r"\{pair\}", "BTC-USD", template)
        path = re.sub(r"\{[^}]+\}", "client:any-order", path)
        for method in item:
            if method not in {"get", "post", "delete"}:
                continue
            response = signed(
                client, withdraw_key, method.upper(), f"{path}?pair=BTC-USD&pair=x"
            )
            assert error_code(response) == "VALIDATION_DUPLICATE_PARAM", (
                method,
                path,
                response.content,
            )
            tried += 1
    assert tried >= 15


def _operations(spec):
    """(method, concrete path, view class) of every weighted operation."""
    for template, item in spec["paths"].items():
        if template == "/v1/health":
            continue
        path = re.sub(r"\{pair\}", "BTC-USD", template)
        path = re.sub(r"\{[^}]+\}", "client:any-order", path)
        view = resolve(path).func.view_class
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method.upper(), path, view, op


def test_each_operation_takes_exactly_the_query_parameters_its_spec_declares(
    client, db
):
    spec = client.get("/v1/openapi.json").json()
    takes_some = 0
    for method, path, view, op in _operations(spec):
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert set(view.allowed_query_params(method)) == declared, (method, path)
        takes_some += bool(declared)
    assert takes_some == 6  # orders, order, fills, orderbook, trades, candles


def test_an_unknown_parameter_is_refused_naming_it_and_the_allowed_ones(
    client, funded, read_key
):
    response = signed(client, read_key, "GET", "/v1/fills?limt=5&pair=BTC-USD")
    assert (response.status_code, error_code(response)) == (
        400,
        "VALIDATION_UNKNOWN_PARAM",
    )
    details = response.json()["error"]["details"]
    assert details == {
        "params": ["limt"],
        "allowed": ["pair", "order_id", "limit", "cursor"],
    }


def test_a_parameter_of_another_endpoint_is_unknown_here(client, funded):
    response = client.get("/v1/trades/BTC-USD?depth=10")
    assert error_code(response) == "VALIDATION_UNKNOWN_PARAM"
    assert response.json()["error"]["details"]["allowed"] == ["limit"]
    response = client.get("/v1/markets?pair=BTC-USD")
    assert error_code(response) == "VALIDATION_UNKNOWN_PARAM"
    assert response.json()["error"]["details"]["allowed"] == []


def test_an_order_with_fills_true_is_still_answered_with_its_fills(
    client, funded, alice, read_key
):
    from tests.helpers import place

    order = place(alice, funded, side="buy", price="50000", size="0.1")
    answer = signed(client, read_key, "GET", f"/v1/orders/{order.uuid}?fills=true")
    assert answer.status_code == 200, answer.content
    assert answer.json()["fills"] == []


@pytest.mark.parametrize("value", ["1", "True", "yes", ""])
def test_fills_takes_true_or_false_only(client, funded, alice, read_key, value):
    from tests.helpers import place

    order = place(alice, funded, side="buy", price="50000", size="0.1")
    answer = signed(client, read_key, "GET", f"/v1/orders/{order.uuid}?fills={value}")
    assert (answer.status_code, error_code(answer)) == (400, "VALIDATION_INVALID_TYPE")
    assert answer.json()["error"]["details"]["field"] == "fills"
    plain = signed(client, read_key, "GET", f"/v1/orders/{order.uuid}?fills=false")
    assert plain.status_code == 200 and "fills" not in plain.json()


def test_every_operation_refuses_an_unknown_parameter(client, funded, withdraw_key):
    spec = client.get("/v1/openapi.json").json()
    tried = 0
    for method, path, _view, _op in _operations(spec):
        response = signed(client, withdraw_key, method, f"{path}?zzz=1")
        assert error_code(response) == "VALIDATION_UNKNOWN_PARAM", (method, path)
        assert response.json()["error"]["details"]["params"] == ["zzz"]
        tried += 1
    assert tried >= 15
