"""The private events journal under the money service: every balance change
emits its ``balances`` event in the same transaction, with a gap-free seq per
(user, channel); the selectors; pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from apps.accounts.errors import InsufficientFunds
from apps.accounts.journal import NewEvent, account_events_append_in_transaction
from apps.accounts.ledger import BalanceChange
from apps.accounts.models import AccountEvent, AccountStream, LedgerReason, Wallet
from apps.accounts.selectors import (
    account_event_first_seq,
    account_event_last_seq,
    account_events_after,
)
from apps.accounts.services import (
    account_events_prune,
    balance_adjust,
    balance_deposit,
    balance_transfer,
    balances_apply,
    fee_user,
)
from apps.accounts.withdrawals import (
    withdrawal_complete,
    withdrawal_fail,
    withdrawal_request,
)
from apps.core.api.formats import unix_ms
from tests.helpers import BTC, events_of, journal_problems

pytestmark = pytest.mark.django_db(transaction=True)


def _seqs(user, channel="balances"):
    return list(
        AccountEvent.objects.filter(user=user, channel=channel)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def test_a_deposit_emits_one_balances_event_in_the_assets_precision(alice, btc):
    before = timezone.now()
    balance_deposit(user=alice, asset=btc, amount=150_000_000, ref="tx-1")
    [event] = AccountEvent.objects.filter(user=alice)
    assert (event.channel, event.seq) == ("balances", 1)
    assert event.payload == {
        "asset": "BTC",
        "wallet": "spot",
        "available": "1.50000000",
        "held": "0.00000000",
        "total": "1.50000000",
        "reason": "deposit",
        "ts": event.payload["ts"],
    }
    assert unix_ms(before) <= event.payload["ts"] == unix_ms(event.created_at)
    assert account_event_last_seq(user_id=alice.pk, channel="balances") == 1


def test_every_kind_of_balance_change_emits_exactly_one_event_each(
    settings, alice, btc, usd
):
    settings.EXCHANGE_ENV = "production"  # staff complete withdrawals, not a task
    balance_deposit(user=alice, asset=usd, amount=5_000_000, reason="faucet")
    balance_deposit(user=alice, asset=btc, amount=3 * BTC)
    balance_transfer(
        user=alice, asset=btc, amount=BTC, from_wallet="spot", to_wallet="margin"
    )
    balance_adjust(user=alice, asset=usd, delta=-1_000_000, ref="correction")
    w1 = withdrawal_request(
        user=alice, asset=btc, amount=BTC // 2, address="bc1qexampleaddr"
    )
    withdrawal_complete(withdrawal_id=w1.pk, txid="abc")
    w2 = withdrawal_request(
        user=alice, asset=btc, amount=BTC // 4, address="bc1qexampleaddr"
    )
    withdrawal_fail(withdrawal_id=w2.pk, reason="bad address")
    events = events_of(alice, "balances")
    assert [
        (e["asset"], e["wallet"], e["reason"], e["available"], e["held"])
        for e in events
    ] == [
        ("USD", "spot", "faucet", "5.000000", "0.000000"),
        ("BTC", "spot", "deposit", "3.00000000", "0.00000000"),
        ("BTC", "spot", "transfer", "2.00000000", "0.00000000"),
        ("BTC", "margin", "transfer", "1.00000000", "0.00000000"),
        ("USD", "spot", "adjustment", "4.000000", "0.000000"),
        ("BTC", "spot", "hold", "1.50000000", "0.50000000"),
        ("BTC", "spot", "withdrawal", "1.50000000", "0.00000000"),
        ("BTC", "spot", "hold", "1.25000000", "0.25000000"),
        ("BTC", "spot", "release", "1.50000000", "0.00000000"),
    ]
    assert all(e["total"] for e in events)
    assert _seqs(alice) == list(range(1, 10))
    assert journal_problems() == []


def test_the_fee_account_and_other_system_users_are_not_journaled(btc):
    fees = fee_user()
    balance_deposit(user=fees, asset=btc, amount=BTC)
    assert not AccountEvent.objects.filter(user=fees).exists()
    assert not AccountStream.objects.filter(user=fees).exists()


def test_a_refused_change_emits_nothing_and_leaves_no_hole(alice, btc):
    balance_deposit(user=alice, asset=btc, amount=BTC)
    with pytest.raises(InsufficientFunds):
        withdrawal_request(
            user=alice, asset=btc, amount=2 * BTC, address="bc1qxxxxxxxx"
        )
    with pytest.raises(RuntimeError), transaction.atomic():
        balance_deposit(user=alice, asset=btc, amount=BTC)
        raise RuntimeError("the caller's transaction fails after the deposit")
    assert _seqs(alice) == [1]
    assert account_event_last_seq(user_id=alice.pk, channel="balances") == 1
    balance_deposit(user=alice, asset=btc, amount=BTC)
    assert _seqs(alice) == [1, 2]
    assert events_of(alice, "balances")[-1]["available"] == "2.00000000"


def test_one_transaction_changing_a_row_twice_emits_its_final_state_once(
    alice, bob, btc
):
    """A matcher batch changes a row many times: one event per row, with the
    row's state after the transaction and the reason of its first change."""
    balance_deposit(user=alice, asset=btc, amount=BTC)
    balances_apply(
        changes=[
            BalanceChange(alice.pk, btc.pk, Wallet.SPOT, -100, 100, LedgerReason.HOLD),
            BalanceChange(bob.pk, btc.pk, Wallet.SPOT, 7, 0, LedgerReason.DEPOSIT),
            BalanceChange(alice.pk, btc.pk, Wallet.SPOT, 0, -40, LedgerReason.TRADE),
            BalanceChange(alice.pk, btc.pk, Wallet.SPOT, 60, -60, LedgerReason.RELEASE),
        ]
    )
    last = events_of(alice, "balances")[-1]
    assert (last["reason"], last["available"], last["held"]) == (
        "hold",
        "0.99999960",
        "0.00000000",
    )
    assert _seqs(alice) == [1, 2]
    assert events_of(bob, "balances") == [
        {**events_of(bob, "balances")[0], "available": "0.00000007"}
    ]


def _append(events):
    with transaction.atomic():
        return account_events_append_in_transaction(events=events, now=timezone.now())


def test_selectors_read_many_cursors_in_one_statement(
    alice, bob, django_assert_num_queries
):
    _append(
        [NewEvent(alice.pk, "orders", {"n": i}) for i in range(1, 6)]
        + [NewEvent(bob.pk, "fills", {"n": i}) for i in range(1, 4)]
        + [NewEvent(alice.pk, "fills", {"n": 1})]
    )
    with django_assert_num_queries(1):
        rows = account_events_after(
            cursors=[
                (bob.pk, "fills", 0),
                (alice.pk, "orders", 1),
                (alice.pk, "fills", 1),  # up to date
                (alice.pk, "balances", 0),  # never had an event
            ],
            limit=3,
        )
    assert [(r.user_id, r.channel, r.seq, r.payload) for r in rows] == sorted(
        [(alice.pk, "orders", s, {"n": s}) for s in (2, 3, 4)]
        + [(bob.pk, "fills", s, {"n": s}) for s in (1, 2, 3)]
    )
    assert all(r.created_at.tzinfo is not None for r in rows)
    assert account_events_after(cursors=[(alice.pk, "orders", 4)], limit=10)[
        0
    ].payload == {"n": 5}
    assert account_events_after(cursors=[], limit=10) == []
    assert account_event_last_seq(user_id=alice.pk, channel="orders") == 5
    assert account_event_last_seq(user_id=alice.pk, channel="balances") == 0
    assert account_event_first_seq(user_id=alice.pk, channel="orders") == 1
    assert account_event_first_seq(user_id=alice.pk, channel="balances") is None


def test_selectors_take_thousands_of_cursors(alice):
    _append([NewEvent(alice.pk, "orders", {"n": 1})])
    cursors = [(alice.pk, "orders", 0)] + [
        (10**6 + i, "fills", 0) for i in range(6_000)
    ]
    [row] = account_events_after(cursors=cursors, limit=1)
    assert (row.user_id, row.seq) == (alice.pk, 1)


def test_prune_keeps_at_least_24_hours_and_never_the_counter(settings, alice, btc):
    settings.ACCOUNT_EVENTS_KEEP_HOURS = 1  # below the floor: 24 h apply
    balance_deposit(user=alice, asset=btc, amount=BTC)
    balance_deposit(user=alice, asset=btc, amount=BTC)
    balance_deposit(user=alice, asset=btc, amount=BTC)
    now = timezone.now()
    AccountEvent.objects.filter(user=alice, seq=1).update(
        created_at=now - timedelta(hours=25)
    )
    AccountEvent.objects.filter(user=alice, seq=2).update(
        created_at=now - timedelta(hours=23)
    )
    assert account_events_prune(now=now) == 1
    assert _seqs(alice) == [2, 3]
    assert account_event_first_seq(user_id=alice.pk, channel="balances") == 2
    assert account_event_last_seq(user_id=alice.pk, channel="balances") == 3
    settings.ACCOUNT_EVENTS_KEEP_HOURS = 72
    assert account_events_prune(now=now + timedelta(hours=48)) == 0
    assert account_events_prune(now=now + timedelta(hours=73)) == 2
    assert account_event_first_seq(user_id=alice.pk, channel="balances") is None
    balance_deposit(user=alice, asset=btc, amount=BTC)
    assert _seqs(alice) == [4]  # the stream continues where it was


def test_prune_works_in_chunks_and_stops_at_its_budget(monkeypatch, alice):
    from apps.accounts import services

    monkeypatch.setattr(services, "PRUNE_CHUNK", 3)
    _append([NewEvent(alice.pk, "orders", {"n": i}) for i in range(10)])
    later = timezone.now() + timedelta(hours=100)
    assert account_events_prune(now=later, max_rows=4) == 4
    assert account_events_prune(now=later) == 6
    assert AccountEvent.objects.count() == 0
    assert account_event_last_seq(user_id=alice.pk, channel="orders") == 10


def test_the_prune_command_reports_what_it_deleted(capsys, alice):
    _append([NewEvent(alice.pk, "orders", {"n": 1})])
    call_command("prune_account_events")
    assert "deleted 0 account events older than 72 h" in capsys.readouterr().out
