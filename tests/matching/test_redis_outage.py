"""Wake-ups and results through Redis are hints: with Redis unreachable an
order is still placed and answered, the matcher polls instead of dying, and
a waiting request reads the database (bus.py's docstring)."""

from __future__ import annotations

import time

import pytest
import redis
from django.test import override_settings

from apps.orders import bus, cancels, services
from apps.orders.models import Order, OrderCommand
from apps.orders.validation import OrderRequest

BUY = OrderRequest(side="buy", type="limit", price=6_300_000, size=1)


class _Unreachable:
    """A Redis client whose every command fails as a dead server's would."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis.exceptions.ConnectionError("Connection refused")

        return fail

    def pipeline(self, *args, **kwargs):
        return self


@pytest.fixture
def redis_down(monkeypatch):
    monkeypatch.setattr(bus, "_redis", lambda: _Unreachable())
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        yield


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("one_statement", [True, False])
def test_an_order_is_placed_and_answered_without_redis(
    redis_down, funded, alice, monkeypatch, one_statement
):
    if not one_statement:
        monkeypatch.setattr(services, "_place_in_one_statement", lambda: False)
    placed = services.order_place(user_id=alice.pk, pair=funded, req=BUY)
    assert not placed.replayed
    assert Order.objects.filter(user=alice).count() == 1
    assert OrderCommand.objects.count() == 1
    # Waiting for the result falls back to reading the row (still pending).
    started = time.monotonic()
    order = services.order_wait(order=placed.order, timeout_s=0.2)
    assert order.status == "pending"
    assert time.monotonic() - started >= 0.19
    cancels.order_cancel(order=order)  # the cancel's wake-up fails quietly too
    assert OrderCommand.objects.count() == 2


def test_an_idle_matcher_polls_instead_of_dying(redis_down):
    waker = bus.WakeListener([1])
    started = time.monotonic()
    waker.wait(0.2)
    assert time.monotonic() - started >= 0.19


def test_a_waiting_request_reads_the_database_when_redis_fails(redis_down):
    answers = iter([False, False, True])
    assert bus.wait_for(1, lambda: next(answers), timeout_s=2) is True


def test_results_are_dropped_quietly_without_redis(redis_down):
    bus.publish_results([1, 2, 3])  # must not raise: the batch has committed
