"""The matcher's private events: each batch journals, in its transaction,
every order's new state (its REST body), each trade's two fills (the REST
fill body's fields) and each changed balance row; a failed batch journals
nothing."""

from __future__ import annotations

import pytest

from apps.accounts.models import AccountEvent
from apps.accounts.services import fee_user
from apps.matching import processor as processor_module
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, OrderCommand, Trade
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.helpers import (
    balance_event_problems,
    events_of,
    journal_problems,
    place,
)

pytestmark = pytest.mark.django_db


def _rest_order(client, user, order):
    key = ApiKeyFactory(user=user, scope="read")
    return signed(client, key, "GET", f"/v1/orders/{order.uuid}").json()


def _rest_fills(client, user):
    key = ApiKeyFactory(user=user, scope="read")
    return signed(client, key, "GET", "/v1/fills").json()["fills"]


def test_a_trade_journals_both_fills_both_orders_and_every_balance(
    client, funded, alice, bob, matcher, assert_ledger
):
    sell = place(alice, funded, side="sell", price="63000", size="1")
    matcher()
    buy = place(
        bob, funded, side="buy", price="63000", size="0.5", client_order_id="b-1"
    )
    matcher()
    trade = Trade.objects.get()
    [alice_fill] = events_of(alice, "fills")
    [bob_fill] = events_of(bob, "fills")
    for user, fill in ((alice, alice_fill), (bob, bob_fill)):
        [rest] = _rest_fills(client, user)
        assert {k: v for k, v in fill.items() if k in rest} == {
            k: v for k, v in rest.items() if k != "time"
        }
        assert set(fill) == set(rest) - {"time"} | {
            "trade_seq",
            "client_order_id",
            "ts",
        }
        assert fill["trade_seq"] == fill["trade_id"] == trade.seq
    assert (alice_fill["liquidity"], alice_fill["side"]) == ("maker", "sell")
    assert (bob_fill["liquidity"], bob_fill["side"]) == ("taker", "buy")
    assert (alice_fill["client_order_id"], bob_fill["client_order_id"]) == (None, "b-1")
    assert alice_fill["fee"] == "31.500000" and bob_fill["fee"] == "63.000000"
    # Orders: pending (placement), then each state the matcher wrote.
    assert [e["status"] for e in events_of(alice, "orders")] == [
        "pending",
        "open",
        "partially_filled",
    ]
    assert [e["status"] for e in events_of(bob, "orders")] == ["pending", "filled"]
    assert events_of(alice, "orders")[-1] == _rest_order(client, alice, sell)
    assert events_of(bob, "orders")[-1] == _rest_order(client, bob, buy)
    assert events_of(alice, "orders")[-1]["filled_size"] == "0.50000000"
    # Balances: each row the batch changed, once, ending where the rows are.
    bob_balances = events_of(bob, "balances")[2:]  # after the two deposits
    assert [(e["asset"], e["reason"]) for e in bob_balances] == [
        ("USD", "hold"),
        ("USD", "trade"),
        ("BTC", "trade"),
    ]
    assert bob_balances[-2]["held"] == "0.000000"
    assert not AccountEvent.objects.filter(user=fee_user()).exists()
    assert balance_event_problems() == []
    assert journal_problems() == []
    assert_ledger()


def test_cancels_and_rejections_journal_the_final_order_and_the_release(
    client, funded, alice, bob, matcher
):
    place(bob, funded, side="buy", price="59500", size="0.1")
    resting = place(alice, funded, side="buy", price="60000", size="0.1")
    matcher()
    order_cancel(order=resting)
    crossing_post_only = place(
        alice, funded, side="sell", price="59000", size="0.1", post_only=True
    )
    matcher()
    assert [e["status"] for e in events_of(alice, "orders")] == [
        "pending",
        "open",
        "pending",
        "cancelled",
        "rejected",
    ]
    cancelled, rejected = events_of(alice, "orders")[-2:]
    assert cancelled == _rest_order(client, alice, resting)
    assert cancelled["reason"] == "user_cancelled"
    assert rejected == _rest_order(client, alice, crossing_post_only)
    assert rejected["reason"] != ""
    releases = [e for e in events_of(alice, "balances") if e["reason"] == "release"]
    assert [(e["asset"], e["held"]) for e in releases] == [
        ("USD", "0.000000"),
        ("BTC", "0.00000000"),
    ]
    assert events_of(alice, "fills") == []
    assert balance_event_problems() == []
    assert journal_problems() == []


def test_a_failed_batch_journals_nothing_and_its_retry_leaves_no_hole(
    funded, alice, bob, matcher, monkeypatch
):
    place(alice, funded, side="sell", price="63000", size="0.1")
    place(bob, funded, side="buy", price="63000", size="0.1")
    before = AccountEvent.objects.count()
    real = processor_module.batch_write
    calls = []

    def failing(batch, now, pairs):
        calls.append(1)
        real(batch, now, pairs)  # everything written, then the commit fails
        if len(calls) == 1:
            raise RuntimeError("the transaction fails late")

    monkeypatch.setattr(processor_module, "batch_write", failing)
    with pytest.raises(RuntimeError):
        matcher.processor.run_once()
    assert AccountEvent.objects.count() == before
    matcher()
    assert len(events_of(bob, "fills")) == len(events_of(alice, "fills")) == 1
    assert balance_event_problems() == []
    assert journal_problems() == []


def test_a_poison_command_journals_its_rejection_and_release(
    funded, alice, bob, matcher, monkeypatch
):
    poison = place(bob, funded, side="buy", price="60000", size="0.1")
    real = processor_module.place_command

    def broken(order, pair):
        if order.pk == poison.pk:
            raise ValueError("cannot be matched")
        return real(order, pair)

    monkeypatch.setattr(processor_module, "place_command", broken)
    for _ in range(10):
        try:
            matcher.processor.run_once()
        except ValueError:
            continue
        if not OrderCommand.objects.filter(processed_at__isnull=True).exists():
            break
    last = events_of(bob, "orders")[-1]
    assert (last["status"], last["reason"]) == ("rejected", "system_error")
    poison.refresh_from_db()
    assert last["updated_at"] == last["done_at"] is not None
    assert events_of(bob, "balances")[-1]["reason"] == "release"
    assert Order.objects.get(pk=poison.pk).status == "rejected"
    assert balance_event_problems() == []
    assert journal_problems() == []
