"""order_wait re-reads only what the matcher changes (MATCHER_FIELDS), keeping
the cached pair: whatever the matcher did, the order it returns must equal a
fresh read in every field."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.orders import cancels, services
from apps.orders.models import Order
from tests.helpers import place

pytestmark = pytest.mark.django_db


def _fields(order: Order) -> dict:
    return {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields}


def test_the_waited_order_equals_a_fresh_read_whatever_happened(
    funded, alice, bob, matcher
):
    maker = place(bob, funded, side="sell", price="63000", size="0.01")
    place(bob, funded, side="sell", price="63500", size="0.01")
    matcher()
    rejected = place(
        alice, funded, side="buy", price="63500", size="0.01", post_only=True
    )
    stop = place(
        bob,
        funded,
        side="sell",
        type="stop_limit",
        stop_price="63000",
        price="62000",
        size="0.01",
    )
    taker = place(alice, funded, side="buy", price="63000", size="0.02")
    resting = place(alice, funded, side="buy", price="60000", size="0.01")
    matcher()
    cancels.order_cancel(order=resting)
    matcher()
    orders = [maker, stop, taker, rejected, resting]
    statuses = set()
    for order in orders:
        waited = services.order_wait(order=order, timeout_s=0.1)
        assert _fields(waited) == _fields(Order.objects.get(pk=order.pk)), order.pk
        statuses.add(waited.status)
    # The scenario covers fills, a trigger, a post-only refusal and a cancel.
    assert [Order.objects.get(pk=o.pk).status for o in orders] == [
        "filled",
        "filled",
        "filled",
        "rejected",
        "cancelled",
    ]
    assert Order.objects.get(pk=stop.pk).triggered_at is not None
    assert statuses == {"filled", "rejected", "cancelled"}


def test_waiting_keeps_the_cached_pair(funded, alice, matcher):
    order = place(alice, funded, side="buy", price="60000", size="0.01")
    matcher()
    _ = order.pair.base, order.pair.quote  # cached, as the API has them
    with CaptureQueriesContext(connection) as queries:
        waited = services.order_wait(order=order, timeout_s=0.1)
        _ = waited.pair.base.scale, waited.pair.quote.scale
    assert len(queries) == 1, [q["sql"] for q in queries]
