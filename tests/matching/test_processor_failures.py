"""The matcher's adapter when things go wrong: memory never runs ahead of the
database, and one bad command cannot stop a pair."""

from __future__ import annotations

import pytest

from apps.accounts.services import account_create, balance_deposit
from apps.markets.models import MarketEvent
from apps.matching import processor as processor_module
from apps.matching.books import PairBook
from apps.orders.models import Order, OrderCommand, Trade
from tests.helpers import BTC, USD, bal, place

pytestmark = pytest.mark.django_db


def gap_free(pair) -> bool:
    seqs = list(
        MarketEvent.objects.filter(pair=pair)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    return seqs == list(range(1, len(seqs) + 1))


def test_a_failed_batch_is_retried_from_a_rebuilt_book(
    funded, alice, bob, matcher, monkeypatch, assert_ledger
):
    place(alice, funded, side="sell", price="63000", size="0.1")
    matcher()
    place(bob, funded, side="buy", price="63000", size="0.1")
    real = processor_module.BatchProcessor._persist
    calls = {"n": 0}

    def flaky(self, batch):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database hiccup")
        return real(self, batch)

    monkeypatch.setattr(processor_module.BatchProcessor, "_persist", flaky)
    with pytest.raises(RuntimeError):
        matcher.processor.run_once()
    assert matcher.processor.stale
    assert matcher() == 1
    assert set(Order.objects.values_list("status", flat=True)) == {"filled"}
    assert Trade.objects.count() == 1 and gap_free(funded)
    assert_ledger()


def test_an_error_while_applying_leaves_no_trace_in_memory(
    funded, alice, bob, matcher, monkeypatch, assert_ledger
):
    place(alice, funded, side="sell", price="63000", size="0.1")
    boom = place(bob, funded, side="buy", price="10", size="0.1")
    real = processor_module.place_command
    calls = {"n": 0}

    def flaky(order, pair):
        calls["n"] += 1
        if order.pk == boom.pk and calls["n"] <= 2:
            raise KeyError("a bug in the adapter")
        return real(order, pair)

    monkeypatch.setattr(processor_module, "place_command", flaky)
    with pytest.raises(KeyError):
        matcher.processor.run_once()
    # The sell was applied in memory before the error; the rebuild forgets it.
    assert matcher() == 2
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert set(statuses.values()) == {"open"}
    rebuilt = PairBook(funded)
    rebuilt.rebuild()
    assert rebuilt.engine.state_hash() == matcher.book.engine.state_hash()
    assert gap_free(funded)
    assert_ledger()


def test_a_command_that_always_fails_is_rejected_alone_and_released(
    funded, alice, bob, matcher, monkeypatch, assert_ledger
):
    good = place(alice, funded, side="sell", price="63000", size="0.1")
    poison = place(bob, funded, side="buy", price="60000", size="0.1")
    after = place(alice, funded, side="sell", price="64000", size="0.1")
    real = processor_module.place_command

    def broken(order, pair):
        if order.pk == poison.pk:
            raise ValueError("cannot be matched")
        return real(order, pair)

    monkeypatch.setattr(processor_module, "place_command", broken)
    for _ in range(20):
        try:
            if (
                matcher.processor.run_once() == 0
                and not OrderCommand.objects.filter(processed_at__isnull=True).exists()
            ):
                break
        except ValueError:
            continue
    statuses = {o.pk: (o.status, o.reject_reason) for o in Order.objects.all()}
    assert statuses[poison.pk] == ("rejected", "system_error")
    assert statuses[good.pk][0] == statuses[after.pk][0] == "open"
    assert bal(bob, funded.quote) == (1_000_000 * USD, 0)
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert_ledger()


def test_a_sweep_of_hundreds_of_makers_settles_in_one_batch(
    funded, bob, matcher, assert_ledger
):
    makers = []
    for i in range(600):
        user = account_create(username=f"maker{i}")
        balance_deposit(user=user, asset=funded.base, amount=BTC)
        makers.append(
            place(user, funded, side="sell", price=str(63000 + i % 7), size="0.0001")
        )
    matcher()
    taker = place(bob, funded, side="buy", price="63010", size="0.06")
    assert matcher() == 1
    taker.refresh_from_db()
    assert (taker.status, taker.filled_size) == ("filled", 600)
    assert Trade.objects.count() == 600
    assert_ledger()
