"""POST/GET /v1/orders beyond the basics: time filters, response_type=full,
bodies that are not JSON, and cancels refused to a read-only key."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from apps.core.api.formats import unix_ms
from apps.orders.models import CancelAllAfter, CommandKind, Order, OrderCommand
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, sign_headers, signed
from tests.helpers import LIMIT_BUY, USD, bal, place

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def quick_wait(settings):
    settings.ORDER_RESULT_TIMEOUT_MS = 30


@pytest.fixture
def key(alice):
    return ApiKeyFactory(user=alice, scope="trade")


def post(client, key, payload, path="/v1/orders"):
    return signed(client, key, "POST", path, payload)


# -- GET /v1/orders?since=&until= ------------------------------------------------


@pytest.fixture
def orders_a_second_apart(funded, alice):
    """Three of alice's orders created at T0, T0 + 1 s and T0 + 2 s, by price
    60000, 60001, 60002."""
    orders = []
    for i in range(3):
        order = place(alice, funded, side="buy", price=str(60000 + i), size="0.01")
        Order.objects.filter(pk=order.pk).update(created_at=T0 + timedelta(seconds=i))
        orders.append(order)
    return orders


def listed_prices(client, key, query: str) -> list[str]:
    path = f"/v1/orders?{query}" if query else "/v1/orders"
    response = signed(client, key, "GET", path)
    assert response.status_code == 200, response.content
    return [o["price"] for o in response.json()["orders"]]


@pytest.mark.parametrize(
    ("query", "prices"),
    [
        ("", ["60002", "60001", "60000"]),
        (f"since={unix_ms(T0) + 1000}", ["60002", "60001"]),  # inclusive
        (f"since={unix_ms(T0) + 1001}", ["60002"]),
        (f"until={unix_ms(T0) + 1000}", ["60000"]),  # exclusive
        (f"until={unix_ms(T0) + 1001}", ["60001", "60000"]),
        (f"since={unix_ms(T0) + 1000}&until={unix_ms(T0) + 2000}", ["60001"]),
        (f"since={unix_ms(T0) + 2001}", []),
        (f"until={unix_ms(T0)}", []),
    ],
)
def test_list_since_is_inclusive_and_until_exclusive_in_milliseconds(
    client, read_key, orders_a_second_apart, query, prices
):
    assert listed_prices(client, read_key, query) == [f"{p}.000000" for p in prices]


def test_list_time_filters_combine_with_status_and_pages(
    client, read_key, orders_a_second_apart
):
    Order.objects.filter(pk=orders_a_second_apart[2].pk).update(status="cancelled")
    query = f"since={unix_ms(T0)}&until={unix_ms(T0) + 3000}"
    assert listed_prices(client, read_key, f"{query}&status=cancelled") == [
        "60002.000000"
    ]
    first = signed(client, read_key, "GET", f"/v1/orders?{query}&limit=1").json()
    assert [o["price"] for o in first["orders"]] == ["60002.000000"]
    rest = listed_prices(client, read_key, f"{query}&cursor={first['next_cursor']}")
    assert rest == ["60001.000000", "60000.000000"]


@pytest.mark.parametrize("query", ["since=-1", "until=soon", "since=1.5"])
def test_list_refuses_a_time_that_is_not_whole_milliseconds(
    client, read_key, funded, query
):
    response = signed(client, read_key, "GET", f"/v1/orders?{query}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


# -- response_type=full ----------------------------------------------------------


def test_replayed_full_response_carries_the_fills_of_the_original(
    client, funded, alice, bob, key, matcher
):
    place(bob, funded, side="sell", price="63000", size="0.004")
    matcher()
    body = {**LIMIT_BUY, "client_order_id": "full-1"}
    first = post(client, key, {**body, "response_type": "ack"})
    assert first.status_code == 202 and "fills" not in first.json()
    matcher()
    replay = post(client, key, {**body, "response_type": "full"})
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    order = replay.json()
    assert order["id"] == first.json()["id"]
    assert (order["status"], order["filled_size"]) == ("partially_filled", "0.00400000")
    assert [
        (f["order_id"], f["side"], f["liquidity"], f["price"], f["size"], f["fee"])
        for f in order["fills"]
    ] == [(order["id"], "buy", "taker", "63000.000000", "0.00400000", "0.504000")]
    # Without full, a replay has no fills.
    plain = post(client, key, {**body, "response_type": "result"})
    assert plain.status_code == 200 and "fills" not in plain.json()
    assert Order.objects.filter(client_order_id="full-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_full_response_waits_for_the_matcher_and_returns_201_with_fills(
    funded, alice, bob, matcher, settings
):
    """The real path: the matcher runs meanwhile (a thread), so the request
    gets the outcome within its deadline rather than 202 pending."""
    settings.ORDER_RESULT_TIMEOUT_MS = 20_000
    key = ApiKeyFactory(user=alice, scope="trade")
    place(bob, funded, side="sell", price="63000", size="0.004")
    place(bob, funded, side="sell", price="63500", size="0.002")
    matcher()
    stop = threading.Event()

    def run_matcher() -> None:
        try:
            while not stop.is_set():
                if not matcher():
                    stop.wait(0.005)
        finally:
            connection.close()

    thread = threading.Thread(target=run_matcher)
    thread.start()
    try:
        response = post(
            Client(),
            key,
            {**LIMIT_BUY, "price": "64000", "size": "0.006", "response_type": "full"},
        )
    finally:
        stop.set()
        thread.join()
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["status"], order["filled_size"]) == ("filled", "0.00600000")
    assert [(f["price"], f["size"], f["liquidity"]) for f in order["fills"]] == [
        ("63000.000000", "0.00400000", "taker"),
        ("63500.000000", "0.00200000", "taker"),
    ]
    assert "Idempotent-Replayed" not in response


# -- bodies that are not JSON ----------------------------------------------------


def post_raw(client, key, body: bytes, content_type: str):
    headers = sign_headers(key, "POST", "/v1/orders", body)
    return client.generic(
        "POST",
        "/v1/orders",
        data=body,
        content_type=content_type,
        headers=headers,
        REMOTE_ADDR="127.0.0.1",
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(LIMIT_BUY).encode(), "text/plain"),
        (json.dumps(LIMIT_BUY).encode(), "text/plain; charset=utf-8"),
        (
            b"pair=BTC-USD&side=buy&type=limit&price=63000&size=0.01",
            "application/x-www-form-urlencoded",
        ),
    ],
    ids=["text", "text-utf8", "form"],
)
def test_a_body_that_is_not_json_is_refused_and_places_nothing(
    client, funded, alice, key, body, content_type
):
    response = post_raw(client, key, body, content_type)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert "application/json" in response.json()["error"]["message"]
    assert Order.objects.count() == 0 and OrderCommand.objects.count() == 0
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)


def test_the_same_body_as_json_is_accepted(client, funded, key):
    """The refusal above is for the content type, not the body or signature."""
    response = post_raw(client, key, json.dumps(LIMIT_BUY).encode(), "application/json")
    assert response.status_code == 202, response.content


# -- cancels need the trade scope ------------------------------------------------


@pytest.fixture
def open_order(client, funded, key, matcher):
    order = post(client, key, {**LIMIT_BUY, "response_type": "ack"}).json()
    matcher()
    assert Order.objects.get(uuid=order["id"]).status == "open"
    return order


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/orders/{id}/cancel", None),
        ("/v1/orders/client:{client_order_id}/cancel", None),
        ("/v1/orders/cancel-all", None),
        ("/v1/orders/cancel-all", {"pair": "BTC-USD"}),
        ("/v1/orders/cancel-all-after", {"timeout_s": 10}),
    ],
)
def test_a_read_key_cannot_cancel_and_nothing_is_cancelled(
    client, alice, read_key, open_order, matcher, path, payload
):
    Order.objects.filter(uuid=open_order["id"]).update(client_order_id="mine-1")
    target = path.format(id=open_order["id"], client_order_id="mine-1")
    response = signed(client, read_key, "POST", target, payload)
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_SCOPE_MISSING",
    )
    assert response.json()["error"]["details"] == {
        "required_scope": "trade",
        "key_scope": "read",
    }
    assert not OrderCommand.objects.filter(kind=CommandKind.CANCEL).exists()
    assert not CancelAllAfter.objects.exists()
    matcher()
    assert Order.objects.get(uuid=open_order["id"]).status == "open"
