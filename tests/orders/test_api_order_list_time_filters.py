"""GET /v1/orders?since=&until=: Unix milliseconds, since inclusive and until
exclusive, combined with the status filter and the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.core.api.formats import unix_ms
from apps.orders.models import Order
from tests.apikeys.helpers import error_code, signed
from tests.helpers import place

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


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
