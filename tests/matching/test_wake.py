"""The matcher's wake-up: what an order or a cancel sends, and what the idle
matcher (``bus.WakeListener``) sleeps on (bus.py's docstring): a Redis list per pair
when Redis is configured, else NOTIFY on the pair's channel on PostgreSQL."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection, transaction
from django.test import override_settings

from apps.matching.locks import PostgresLocks
from apps.orders import bus, cancels, placement, services
from apps.orders.validation import OrderRequest

BUY = OrderRequest(side="buy", type="limit", price=6_300_000, size=1)
POLL_S = 5.0  # far longer than any wake-up: a test that waits this long failed


def _place(pair, user):
    return services.order_place(user_id=user.pk, pair=pair, req=BUY).order


def _slept_after(waker: bus.WakeListener, action, timeout: float = POLL_S) -> float:
    started = time.monotonic()
    action()
    waker.wait(timeout)
    return time.monotonic() - started


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY")
@override_settings(REDIS_URL="")
def test_without_redis_notify_on_the_pairs_channel_wakes_its_matcher(funded, alice):
    locks = PostgresLocks()
    try:
        # The matcher listens on its pair-lock connection (worker.py).
        waker = bus.WakeListener([funded.pk], pg_conn=locks.conn)
        assert waker.pg is not None
        # The order's one statement carries the NOTIFY.
        assert _slept_after(waker, lambda: _place(funded, alice)) < 2
        # A cancel wakes it too (NOTIFY inside the cancel's transaction).
        order = _place(funded, alice)
        waker.wait(0.5)  # take the order's own notification
        assert _slept_after(waker, lambda: cancels.order_cancel(order=order)) < 2

        # Another pair's commands do not wake this matcher.
        def other_pair() -> None:
            with transaction.atomic():
                bus.wake_matcher(funded.pk + 1000)

        assert _slept_after(waker, other_pair, timeout=0.3) >= 0.29
    finally:
        locks.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="Redis wake-ups: needs REDIS_URL"
)
@pytest.mark.parametrize("one_statement", [True, False])
def test_with_redis_a_list_wakes_the_matcher_after_commit(
    funded, alice, monkeypatch, one_statement
):
    """With Redis nothing is NOTIFYed (every notifying commit would queue on
    one global lock): both order paths push to the pair's list after commit."""
    monkeypatch.setattr(services, "_place_in_one_statement", lambda: one_statement)
    waker = bus.WakeListener([funded.pk])
    bus._redis().delete(*waker.keys)
    assert _slept_after(waker, lambda: _place(funded, alice)) < 2
    assert bus._redis().llen(bus.wake_key(funded.pk)) == 0  # taken
    if connection.vendor == "postgresql":
        assert "pg_notify" not in placement._place_pg_sql(False)
