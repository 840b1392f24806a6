"""The matcher's once-a-second housekeeping fires expired cancel-all-after
timers: the key's live orders get cancel commands, which the matcher applies."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.matching import worker
from apps.matching.worker import MatcherProcess
from apps.orders.cancels import cancel_all_after_set
from apps.orders.models import CancelAllAfter, CommandKind, Order, OrderCommand
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.helpers import LIMIT_BUY, events_of, place

pytestmark = pytest.mark.django_db

ACK_BUY = {**LIMIT_BUY, "response_type": "ack"}


@pytest.fixture
def housekeeper(btc_usd):
    """A matcher as runmatcher builds it, never started: only its housekeeping
    is called (its pair locks are never taken)."""
    matcher = MatcherProcess(["BTC-USD"])
    yield matcher
    matcher.locks.close()


@pytest.fixture
def key(alice):
    return ApiKeyFactory(user=alice, scope="trade")


def expire(api_key) -> None:
    """Move the key's timer deadline into the past, as if it was not refreshed."""
    moved = CancelAllAfter.objects.filter(api_key=api_key).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    assert moved == 1


def cancels() -> set[int]:
    return set(
        OrderCommand.objects.filter(kind=CommandKind.CANCEL).values_list(
            "order_id", flat=True
        )
    )


def test_housekeeping_cancels_the_orders_of_a_key_whose_timer_expired(
    client, funded, alice, key, matcher, housekeeper
):
    other_key = ApiKeyFactory(user=alice, scope="trade")
    mine = [
        signed(client, key, "POST", "/v1/orders", {**ACK_BUY, "price": p}).json()
        for p in ("63000", "62000")
    ]
    signed(client, other_key, "POST", "/v1/orders", ACK_BUY)
    place(alice, funded, side="buy", price="61000", size="0.01")
    matcher()
    armed = signed(
        client, key, "POST", "/v1/orders/cancel-all-after", {"timeout_s": 10}
    )
    assert armed.json()["armed"] is True

    housekeeper.housekeeping()  # not due yet
    assert cancels() == set()
    assert CancelAllAfter.objects.filter(api_key=key).exists()

    expire(key)
    housekeeper.housekeeping()
    mine_pks = set(
        Order.objects.filter(uuid__in=[o["id"] for o in mine]).values_list(
            "pk", flat=True
        )
    )
    assert cancels() == mine_pks
    assert not CancelAllAfter.objects.exists()  # fired timers disarm

    matcher()
    assert set(Order.objects.values_list("api_key_id", "status")) == {
        (key.pk, "cancelled"),
        (other_key.pk, "open"),
        (None, "open"),  # placed without a key: no timer covers it
    }
    assert set(
        Order.objects.filter(pk__in=mine_pks).values_list("reject_reason", flat=True)
    ) == {"dead_man_switch"}
    # The private orders stream (what a WebSocket client receives) says so too.
    streamed = {
        (e["id"], e["reason"])
        for e in events_of(alice, "orders")
        if e["status"] == "cancelled"
    }
    assert streamed == {(o["id"], "dead_man_switch") for o in mine}


def test_housekeeping_fires_a_timer_set_through_the_service_once(
    funded, alice, key, matcher, housekeeper
):
    order = place(alice, funded, side="sell", price="70000", size="0.5")
    Order.objects.filter(pk=order.pk).update(api_key=key)
    matcher()
    cancel_all_after_set(api_key=key, timeout_s=5)
    expire(key)
    housekeeper.housekeeping()
    housekeeper.housekeeping()  # disarmed: nothing more to do
    assert list(
        OrderCommand.objects.filter(kind=CommandKind.CANCEL).values_list(
            "order_id", flat=True
        )
    ) == [order.pk]
    matcher()
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_a_refreshed_timer_is_not_fired(funded, alice, key, matcher, housekeeper):
    order = place(alice, funded, side="buy", price="60000", size="0.01")
    Order.objects.filter(pk=order.pk).update(api_key=key)
    matcher()
    cancel_all_after_set(api_key=key, timeout_s=5)
    expire(key)
    cancel_all_after_set(api_key=key, timeout_s=5)  # refreshed in time
    housekeeper.housekeeping()
    assert cancels() == set()
    assert CancelAllAfter.objects.filter(api_key=key).exists()


def test_orders_on_a_halted_pair_are_cancelled_once_it_resumes(
    funded, alice, key, matcher, housekeeper
):
    order = place(alice, funded, side="buy", price="60000", size="0.01")
    Order.objects.filter(pk=order.pk).update(api_key=key)
    matcher()
    funded.status = "halted"
    funded.save()
    cancel_all_after_set(api_key=key, timeout_s=5)
    expire(key)
    housekeeper.housekeeping()
    assert cancels() == set()  # a halted book is frozen
    assert CancelAllAfter.objects.filter(api_key=key).exists()  # still armed

    funded.status = "trading"
    funded.save()
    housekeeper.housekeeping()
    assert cancels() == {order.pk}
    assert not CancelAllAfter.objects.exists()
    matcher()
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_a_failing_housekeeping_is_logged_and_does_not_stop_the_matcher(
    monkeypatch, caplog, housekeeper
):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(worker, "cancel_all_after_fire", broken)
    with caplog.at_level(logging.ERROR, logger="apps.matching"):
        housekeeper.housekeeping()  # does not raise
    assert "cancel-all-after housekeeping failed" in caplog.text
