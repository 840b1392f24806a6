"""Every shape of batch persists, on PostgreSQL and SQLite alike: batches that
change no order row, only trades, only rejects, only cancels that find
nothing to cancel."""

from __future__ import annotations

import pytest

from apps.markets.models import MarketEvent
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, OrderCommand, Trade
from tests.helpers import place

pytestmark = pytest.mark.django_db


def results(kind: str) -> list[str]:
    return list(
        OrderCommand.objects.filter(kind=kind)
        .order_by("id")
        .values_list("result", flat=True)
    )


def test_a_cancel_alone_for_an_order_filled_just_before_it_changes_no_row(
    funded, alice, bob, matcher, assert_ledger
):
    sell = place(alice, funded, side="sell", price="63000", size="0.5")
    place(bob, funded, side="buy", price="63000", size="0.5")
    order_cancel(order=sell)  # queued while the sell was still pending
    assert matcher.processor.run_once(2) == 2  # the two orders trade
    events = MarketEvent.objects.count()
    assert matcher.processor.run_once(2) == 1  # the cancel, alone
    sell.refresh_from_db()
    assert sell.status == "filled"
    assert results("cancel") == ["not_open"]
    assert MarketEvent.objects.count() == events  # nothing moved on the book
    assert not matcher.processor.stale and matcher.processor.failures == 0
    assert_ledger()


def test_a_batch_of_only_cancels_of_finished_orders_is_all_not_open(
    funded, alice, bob, matcher, assert_ledger
):
    sells = [
        place(alice, funded, side="sell", price="63000", size="0.1") for _ in range(2)
    ]
    place(bob, funded, side="buy", price="63000", size="0.2")
    for order in sells:
        order_cancel(order=order)  # queued while the sells were pending
    assert matcher.processor.run_once(3) == 3  # the orders trade
    events = MarketEvent.objects.count()
    assert matcher.processor.run_once(100) == 2  # both cancels find nothing
    assert [Order.objects.get(pk=o.pk).status for o in sells] == ["filled"] * 2
    assert results("cancel") == ["not_open", "not_open"]
    assert MarketEvent.objects.count() == events
    assert_ledger()


def test_a_batch_of_only_trades_against_resting_makers(
    funded, alice, bob, matcher, assert_ledger
):
    for price in ("63000", "63001"):
        place(alice, funded, side="sell", price=price, size="0.1")
    matcher()
    place(bob, funded, side="buy", price="63001", size="0.1")
    place(bob, funded, side="buy", price="63001", size="0.1")
    assert matcher.processor.run_once(10) == 2
    assert Trade.objects.count() == 2
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    assert_ledger()


def test_a_batch_of_only_rejects(funded, alice, bob, matcher, assert_ledger):
    place(alice, funded, side="sell", price="63000", size="0.1")
    matcher()
    # A post-only that would cross is rejected by the engine; orders queued
    # before the pair went cancel-only are rejected by the matcher.
    place(bob, funded, side="buy", price="63000", size="0.1", post_only=True)
    assert matcher.processor.run_once(10) == 1
    place(bob, funded, side="buy", price="62000", size="0.1")
    funded.status = "cancel_only"
    funded.save()
    assert matcher.processor.run_once(10) == 1
    rejected = Order.objects.filter(status="rejected").order_by("id")
    assert list(rejected.values_list("reject_reason", flat=True)) == [
        "post_only_would_take",
        "market_cancel_only",
    ]
    assert results("place") == ["processed", "processed", "rejected"]
    assert_ledger()


def test_an_empty_queue_is_no_batch(funded, matcher):
    assert matcher.processor.run_once(10) == 0
    assert not matcher.processor.stale
