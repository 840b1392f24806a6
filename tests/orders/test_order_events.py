"""The order path's private events: a placement journals its order (the REST
body of ``GET /v1/orders/{id}``, pending) and its hold, in its own
transaction, on both of its paths."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.accounts.ledger.events import unit_multiplier
from apps.accounts.models import AccountEvent, AccountStream
from apps.core.api.formats import unix_ms
from apps.core.money import MAX_UNITS, format_units
from apps.orders import services
from apps.orders.models import Order
from tests.apikeys.helpers import signed
from tests.helpers import LIMIT_BUY, events_of, journal_problems
from tests.orders.helpers import post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]

PATHS = [
    "general",
    pytest.param(
        "one_statement",
        marks=pytest.mark.skipif(
            connection.vendor != "postgresql", reason="the PostgreSQL statement"
        ),
    ),
]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    if request.param == "general":
        monkeypatch.setattr(services, "_place_in_one_statement", lambda: False)
    return request.param


@pytest.mark.parametrize(
    "wire",
    [
        {**LIMIT_BUY, "client_order_id": "ev-1"},
        {
            "pair": "BTC-USD",
            "side": "sell",
            "type": "limit",
            "price": "64000.5",
            "size": "0.0123",
            "time_in_force": "IOC",
            "stp": "cancel_both",
        },
        {"pair": "BTC-USD", "side": "buy", "type": "market", "funds": "250.5"},
        {
            "pair": "BTC-USD",
            "side": "sell",
            "type": "stop_limit",
            "price": "60000",
            "stop_price": "61000",
            "size": "0.5",
        },
    ],
    ids=["limit-buy", "limit-sell", "market-funds", "stop-limit"],
)
def test_placing_journals_the_pending_order_as_its_rest_body_and_the_hold(
    client, funded, alice, key, path, wire
):
    body = post(client, key, wire).json()
    [event] = events_of(alice, "orders")
    rest = signed(client, key, "GET", f"/v1/orders/{body['id']}").json()
    assert event == rest == body
    assert event["status"] == "pending"
    held_asset = funded.held_asset(wire["side"])
    hold = events_of(alice, "balances")[-1]
    order = Order.objects.get(uuid=body["id"])
    assert hold == {
        "asset": held_asset.code,
        "wallet": "spot",
        "available": hold["available"],
        "held": format_units(order.hold_amount, held_asset.scale),
        "total": hold["total"],
        "reason": "hold",
        "ts": unix_ms(order.created_at),
    }
    # After the funding deposits (one event each): gap-free.
    assert AccountEvent.objects.get(user=alice, channel="orders").seq == 1
    assert journal_problems() == []


def test_a_refused_placement_journals_nothing(client, funded, alice, key, path):
    before = list(AccountStream.objects.values_list("user_id", "channel", "last_seq"))
    response = post(client, key, {**LIMIT_BUY, "size": "100"})  # 6.3M USD
    assert response.json()["error"]["code"] == "ACCOUNT_INSUFFICIENT_FUNDS"
    assert events_of(alice, "orders") == []
    assert (
        list(AccountStream.objects.values_list("user_id", "channel", "last_seq"))
        == before
    )
    post(client, key, LIMIT_BUY)
    assert AccountEvent.objects.get(user=alice, channel="orders").seq == 1
    assert journal_problems() == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's NUMERIC")
def test_the_statements_amounts_in_sql_read_as_format_units():
    """The one statement formats the hold's balance in SQL (NUMERIC times one
    minor unit): it must write exactly what ``format_units`` writes."""
    cases = [
        (units, scale)
        for scale in (0, 1, 2, 6, 8, 18)
        for units in (0, 1, 9, 10, 123_456_789, 10**18, MAX_UNITS)
    ]
    with connection.cursor() as cursor:
        for units, scale in cases:
            cursor.execute(
                "SELECT (%s::bigint::numeric * %s::numeric)::text",
                [units, unit_multiplier(scale)],
            )
            assert cursor.fetchone()[0] == format_units(units, scale), (units, scale)
