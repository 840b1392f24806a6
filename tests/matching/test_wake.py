"""The matcher's wake-up: what an order or a cancel sends, and what the idle
matcher (``_Waker``) sleeps on, per database (bus.py's docstring)."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from django.test import override_settings

from apps.matching import bus
from apps.matching.locks import FileLocks, PostgresLocks
from apps.matching.worker import _Waker
from apps.orders import services
from apps.orders.validation import OrderRequest

BUY = OrderRequest(side="buy", type="limit", price=6_300_000, size=1)
POLL_S = 5.0  # far longer than any wake-up: a test that waits this long failed


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY")
def test_on_postgresql_the_order_statement_wakes_a_listening_matcher(funded, alice):
    locks = PostgresLocks()
    try:
        waker = _Waker(locks, [funded.pk])
        assert _slept_after(waker, lambda: _place(funded, alice)) < 2
        # A cancel wakes it too (NOTIFY inside the cancel's transaction).
        order = _place(funded, alice)
        waker.wait(0.5)  # drain the order's own notification
        assert _slept_after(waker, lambda: services.order_cancel(order=order)) < 2
        # Nothing sent: the waker sleeps its full timeout.
        started = time.monotonic()
        waker.wait(0.3)
        assert time.monotonic() - started >= 0.29
    finally:
        locks.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="Redis wake-ups: needs REDIS_URL"
)
def test_without_postgresql_a_redis_list_wakes_the_matcher(
    funded, alice, tmp_path, monkeypatch
):
    """SQLite with Redis: the wake-up goes through a Redis list after commit
    (simulated here on whichever database runs the suite)."""
    with override_settings(IS_POSTGRES=False, VAR_DIR=tmp_path):
        waker = _Waker(FileLocks(), [funded.pk])
        bus._redis().delete(*waker.keys)
        assert waker.pg is None
        monkeypatch.setattr(services, "_one_statement", lambda: False)
        assert _slept_after(waker, lambda: _place(funded, alice)) < 2
        assert bus._redis().llen(bus.wake_key(funded.pk)) == 0  # consumed


def _place(pair, user):
    return services.order_place(user_id=user.pk, pair=pair, req=BUY).order


def _slept_after(waker: _Waker, action) -> float:
    started = time.monotonic()
    action()
    waker.wait(POLL_S)
    return time.monotonic() - started
