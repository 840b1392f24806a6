"""POST /v1/orders with response_type=full: the order with its fills, also
when replayed for a repeated client_order_id."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.orders.models import Order
from tests.apikeys.factories import ApiKeyFactory
from tests.helpers import LIMIT_BUY, matcher_running, place
from tests.orders.helpers import post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]


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
    with matcher_running(matcher):
        response = post(
            Client(),
            key,
            {**LIMIT_BUY, "price": "64000", "size": "0.006", "response_type": "full"},
        )
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["status"], order["filled_size"]) == ("filled", "0.00600000")
    assert [(f["price"], f["size"], f["liquidity"]) for f in order["fills"]] == [
        ("63000.000000", "0.00400000", "taker"),
        ("63500.000000", "0.00200000", "taker"),
    ]
    assert "Idempotent-Replayed" not in response
