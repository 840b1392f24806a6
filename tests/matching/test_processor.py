"""The matcher's adapter against the real database: settlement, fees, ledger."""

from __future__ import annotations

import pytest

from apps.accounts.services import fee_user
from apps.markets.models import MarketEvent
from apps.matching.books import PairBook
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, OrderCommand, Trade
from tests.helpers import BTC, USD, bal, place

pytestmark = pytest.mark.django_db


def test_crossing_limits_trade_and_settle_both_sides_with_fees(
    funded, alice, bob, matcher, assert_ledger
):
    btc, usd = funded.base, funded.quote
    sell = place(alice, funded, side="sell", price="63000", size="1")
    assert bal(alice, btc) == (9 * BTC, 1 * BTC)
    buy = place(bob, funded, side="buy", price="63000", size="0.5")
    # hold = 31,500 USD + 0.2% taker fee = 63 USD
    assert bal(bob, usd) == (1_000_000 * USD - 31_563 * USD, 31_563 * USD)
    assert matcher() == 2
    sell.refresh_from_db()
    buy.refresh_from_db()
    assert (sell.status, sell.filled_size, sell.fee) == (
        "partially_filled",
        5_000,
        31_500_000,
    )
    assert (buy.status, buy.filled_size, buy.fee) == ("filled", 5_000, 63_000_000)
    assert bal(bob, btc) == (10 * BTC + BTC // 2, 0)
    assert bal(bob, usd) == (1_000_000 * USD - 31_563 * USD, 0)
    assert bal(alice, usd) == (1_000_000 * USD + 31_500 * USD - 31_500_000, 0)
    assert bal(alice, btc) == (9 * BTC, BTC // 2)
    assert bal(fee_user(), usd) == (94_500_000, 0)
    trade = Trade.objects.get()
    assert (trade.seq, trade.price, trade.size, trade.taker_side) == (
        1,
        6_300_000,
        5_000,
        "buy",
    )
    assert list(MarketEvent.objects.order_by("seq").values_list("seq", "type")) == [
        (1, "book"),
        (2, "trade"),
        (3, "book"),
    ]
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert_ledger()


def test_taker_buying_below_its_limit_gets_the_difference_released(
    funded, alice, bob, matcher, assert_ledger
):
    usd = funded.quote
    place(alice, funded, side="sell", price="62000", size="1")
    buy = place(bob, funded, side="buy", price="63000", size="1")
    matcher()
    buy.refresh_from_db()
    assert buy.status == "filled" and buy.filled_quote == 62_000 * USD
    assert bal(bob, usd) == (1_000_000 * USD - 62_000 * USD - 124 * USD, 0)
    assert_ledger()


def test_cancel_releases_the_hold_and_is_idempotent(
    funded, alice, matcher, assert_ledger
):
    order = place(alice, funded, side="buy", price="60000", size="0.1")
    matcher()
    assert order_cancel(order=order) == "requested"
    assert order_cancel(order=order) == "requested"  # one queued cancel, not two
    assert (
        OrderCommand.objects.filter(kind="cancel", processed_at__isnull=True).count()
        == 1
    )
    matcher()
    order.refresh_from_db()
    assert (order.status, order.reject_reason) == ("cancelled", "user_cancelled")
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)
    assert order_cancel(order=order) == "already_cancelled"
    assert_ledger()


def test_cancel_of_a_pending_order_is_applied_after_its_placement(
    funded, alice, matcher, assert_ledger
):
    order = place(alice, funded, side="sell", price="70000", size="2")
    order_cancel(order=order)
    matcher()
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert bal(alice, funded.base) == (10 * BTC, 0)
    assert_ledger()


def test_orders_queued_before_cancel_only_are_rejected_and_released(
    funded, alice, matcher, assert_ledger
):
    order = place(alice, funded, side="buy", price="60000", size="0.1")
    funded.status = "cancel_only"
    funded.save()
    matcher()
    order.refresh_from_db()
    assert (order.status, order.reject_reason) == ("rejected", "market_cancel_only")
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)
    assert_ledger()


def test_a_halted_pairs_queue_waits_frozen_and_resumes_in_order(
    funded, alice, matcher, assert_ledger
):
    resting = place(alice, funded, side="buy", price="60000", size="0.1")
    matcher()
    order_cancel(order=resting)
    queued = place(alice, funded, side="buy", price="60001", size="0.1")
    funded.status = "halted"
    funded.save()
    assert matcher() == 0  # nothing taken while halted
    resting.refresh_from_db()
    queued.refresh_from_db()
    assert (resting.status, queued.status) == ("open", "pending")
    funded.status = "trading"
    funded.save()
    assert matcher() == 2
    resting.refresh_from_db()
    queued.refresh_from_db()
    assert (resting.status, queued.status) == ("cancelled", "open")
    assert_ledger()


def test_market_buy_by_funds_spends_at_most_its_funds(
    funded, alice, bob, matcher, assert_ledger
):
    place(alice, funded, side="sell", price="50000", size="0.1")
    place(alice, funded, side="sell", price="50100", size="0.1")
    buy = place(bob, funded, type="market", side="buy", funds="7000")
    matcher()
    buy.refresh_from_db()
    assert buy.status == "filled"
    assert buy.filled_quote + buy.fee <= 7_000 * USD
    assert (
        buy.filled_size == 1_000 + 396
    )  # 0.1 at 50,000 then what the rest buys at 50,100
    assert bal(bob, funded.quote)[1] == 0
    assert_ledger()


def test_market_buy_by_size_is_held_at_the_band_edge_and_released(
    funded, alice, bob, matcher, assert_ledger
):
    place(alice, funded, side="sell", price="50000", size="1")
    matcher()
    buy = place(bob, funded, type="market", side="buy", size="0.5")
    # held at 50,000 * 1.05 = 52,500 per BTC, plus 0.2% fee
    assert buy.hold_amount == 26_250 * USD + 52_500_000
    matcher()
    buy.refresh_from_db()
    assert (buy.status, buy.filled_size) == ("filled", 5_000)
    assert bal(bob, funded.quote) == (1_000_000 * USD - 25_000 * USD - 50 * USD, 0)
    assert_ledger()


def test_stop_order_triggers_on_the_last_trade_price(
    funded, alice, bob, matcher, assert_ledger
):
    stop = place(
        bob,
        funded,
        type="stop_limit",
        side="sell",
        stop_price="59000",
        price="58000",
        size="0.1",
    )
    place(alice, funded, side="buy", price="58500", size="0.1")
    matcher()
    stop.refresh_from_db()
    assert (stop.status, stop.triggered_at) == ("open", None)
    place(
        alice, funded, side="sell", price="58900", size="0.1"
    )  # alice sells to... nobody; rests
    place(
        bob, funded, side="buy", price="58900", size="0.1"
    )  # trade at 58,900 <= 59,000
    matcher()
    stop.refresh_from_db()
    assert stop.triggered_at is not None
    assert stop.status == "filled"  # sold into alice's 58,500 bid
    assert_ledger()


def test_rebuilt_book_has_the_same_state_as_the_live_one(funded, alice, bob, matcher):
    for i in range(5):
        place(alice, funded, side="sell", price=str(63000 + i * 10), size="0.3")
        place(bob, funded, side="buy", price=str(62900 - i * 10), size="0.2")
    place(bob, funded, side="buy", price="63015", size="0.5")
    place(bob, funded, type="stop", side="buy", stop_price="64000", size="0.1")
    matcher()
    rebuilt = PairBook(funded)
    rebuilt.rebuild()
    assert rebuilt.engine.state_hash() == matcher.book.engine.state_hash()
    assert (rebuilt.event_seq, rebuilt.trade_seq, rebuilt.priority) == (
        matcher.book.event_seq,
        matcher.book.trade_seq,
        matcher.book.priority,
    )


def test_self_trade_is_prevented_by_cancelling_the_newest(
    funded, alice, matcher, assert_ledger
):
    resting = place(alice, funded, side="sell", price="63000", size="0.1")
    taker = place(alice, funded, side="buy", price="63000", size="0.1")
    matcher()
    resting.refresh_from_db()
    taker.refresh_from_db()
    assert (resting.status, taker.status, taker.reject_reason) == (
        "open",
        "cancelled",
        "self_trade",
    )
    assert Trade.objects.count() == 0
    assert_ledger()


def test_book_events_chain_their_previous_sequence(funded, alice, bob, matcher):
    place(alice, funded, side="sell", price="63000", size="0.1")
    place(bob, funded, side="buy", price="63000", size="0.1")
    matcher()
    books = list(MarketEvent.objects.filter(type="book").order_by("seq"))
    assert [b.payload["prev_seq"] for b in books] == [0, books[0].seq]
    assert books[0].payload["changes"] == [["sell", "63000.000000", "0.10000000"]]
    assert books[1].payload["changes"] == [["sell", "63000.000000", "0.00000000"]]
    assert Order.objects.filter(status="filled").count() == 2


def test_matcherstatus_reports_queue_length_and_lag(funded, alice, capsys):
    from django.core.management import call_command

    place(alice, funded, side="buy", price="60000", size="0.1")
    place(alice, funded, side="buy", price="60001", size="0.1")
    call_command("matcherstatus")
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["pair", "owner", "alive", "last_seq", "queue", "lag_ms"]
    row = next(line.split() for line in table if line.startswith("BTC-USD"))
    assert row[1:5] == ["-", "False", "0", "2"]
    assert int(row[5]) >= 0


def test_a_trade_event_carries_the_trade_rows_time_not_the_orders(
    funded, alice, bob, matcher
):
    from datetime import timedelta

    from apps.core.api.formats import unix_ms

    place(alice, funded, side="sell", price="63000", size="0.1")
    buy = place(bob, funded, side="buy", price="63000", size="0.1")
    # The taker's order was placed a while before the matcher got to it.
    Order.objects.filter(pk=buy.pk).update(
        created_at=buy.created_at - timedelta(seconds=90)
    )
    matcher()
    trade = Trade.objects.get()
    event = MarketEvent.objects.get(type="trade")
    assert event.payload["ts"] == unix_ms(trade.created_at)
    assert event.payload["trade_seq"] == trade.seq
