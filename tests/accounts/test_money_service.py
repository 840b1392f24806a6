from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from apps.accounts.errors import InsufficientFunds, InvalidTransfer
from apps.accounts.ledger import NewEvent, hold_params, overdraft_refused
from apps.accounts.models import Balance, LedgerEntry, LedgerReason, Wallet
from apps.accounts.selectors import ledger_problems
from apps.accounts.services import (
    BalanceChange,
    balance_adjust,
    balance_deposit,
    balance_hold,
    balance_release,
    balance_transfer,
    balance_withdraw,
    balances_apply,
)
from apps.apikeys.models import ApiKey
from apps.core.errors import DomainError, ErrorCode, ValidationFailed
from apps.core.money import MAX_UNITS
from apps.markets.models import Asset
from tests.helpers import run_concurrently


def _balance(user, asset, wallet=Wallet.SPOT) -> Balance:
    return Balance.objects.get(user=user, asset=asset, wallet=wallet)


@pytest.mark.django_db
def test_deposit_credits_available_and_writes_ledger(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=150_000_000)
    b = _balance(alice, btc)
    assert (b.available, b.held) == (150_000_000, 0)
    entry = LedgerEntry.objects.get()
    assert (entry.reason, entry.delta_available, entry.available_after) == (
        LedgerReason.DEPOSIT,
        150_000_000,
        150_000_000,
    )
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_hold_and_release_move_between_available_and_held(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=1_000)
    balance_hold(user=alice, asset=btc, amount=600)
    b = _balance(alice, btc)
    assert (b.available, b.held) == (400, 600)
    balance_release(user=alice, asset=btc, amount=250)
    b.refresh_from_db()
    assert (b.available, b.held) == (650, 350)
    assert LedgerEntry.objects.count() == 3
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_hold_beyond_available_raises_and_writes_nothing(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=100)
    with pytest.raises(InsufficientFunds) as err:
        balance_hold(user=alice, asset=btc, amount=101)
    assert err.value.code == "ACCOUNT_INSUFFICIENT_FUNDS"
    assert (_balance(alice, btc).available, LedgerEntry.objects.count()) == (100, 1)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_release_beyond_held_is_refused(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=100)
    balance_hold(user=alice, asset=btc, amount=10)
    with pytest.raises(InsufficientFunds):
        balance_release(user=alice, asset=btc, amount=11)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_transfer_between_wallets(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=500)
    balance_transfer(
        user=alice, asset=btc, amount=200, from_wallet="spot", to_wallet="earn"
    )
    assert _balance(alice, btc).available == 300
    assert _balance(alice, btc, Wallet.EARN).available == 200
    with pytest.raises(InvalidTransfer):
        balance_transfer(
            user=alice, asset=btc, amount=1, from_wallet="spot", to_wallet="spot"
        )
    with pytest.raises(InsufficientFunds):
        balance_transfer(
            user=alice, asset=btc, amount=301, from_wallet="spot", to_wallet="margin"
        )
    with pytest.raises(ValidationFailed):
        balance_transfer(
            user=alice, asset=btc, amount=1, from_wallet="spot", to_wallet="moon"
        )
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_withdraw_from_available_and_from_held(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=500)
    balance_withdraw(user=alice, asset=btc, amount=100)
    balance_hold(user=alice, asset=btc, amount=50, ref="withdrawal:1")
    balance_withdraw(
        user=alice, asset=btc, amount=50, from_held=True, ref="withdrawal:1"
    )
    b = _balance(alice, btc)
    assert (b.available, b.held) == (350, 0)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_adjustment_needs_a_reason_and_counts_as_external(alice, btc, assert_ledger):
    with pytest.raises(ValidationFailed):
        balance_adjust(user=alice, asset=btc, delta=5, ref=" ")
    balance_adjust(user=alice, asset=btc, delta=5, ref="support ticket 12")
    assert _balance(alice, btc).available == 5
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_amounts_must_be_positive_integers(alice, btc, amount):
    with pytest.raises(ValidationFailed):
        balance_deposit(user=alice, asset=btc, amount=amount)


@pytest.mark.django_db
def test_ledger_check_detects_a_balance_changed_behind_its_back(alice, btc):
    balance_deposit(user=alice, asset=btc, amount=100)
    Balance.objects.filter(user=alice).update(available=101)
    problems = ledger_problems()
    assert any("differs from its ledger" in p for p in problems)
    assert any("deposits - withdrawals" in p for p in problems)


@pytest.mark.django_db
def test_only_the_balance_constraints_read_as_insufficient_funds(alice, btc):
    """By the violated constraint's name, never by the message: a unique
    violation's message quotes the client's own values."""
    balance_deposit(user=alice, asset=btc, amount=100)
    change = BalanceChange(alice.pk, btc.pk, Wallet.SPOT, -101, 101, "hold")
    with pytest.raises(InsufficientFunds) as overdraft:
        with overdraft_refused(change), transaction.atomic():
            Balance.objects.filter(user=alice).update(available=-1)
    assert isinstance(overdraft.value.__cause__, IntegrityError)
    duplicate = {"user": alice, "key": "balance_available_gte_0", "label": "x"}
    ApiKey.objects.create(**duplicate, secret_encrypted="s")
    # Not an overdraft: the unique violation propagates as it is.
    with pytest.raises(IntegrityError):
        with overdraft_refused(change), transaction.atomic():
            ApiKey.objects.create(**duplicate, secret_encrypted="s")


@pytest.mark.django_db
def test_check_constraint_stops_a_negative_balance(alice, btc):
    balance_deposit(user=alice, asset=btc, amount=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=alice).update(available=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(user=alice).update(held=-1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_holds_never_overdraw(alice, btc, assert_ledger):
    """Two threads, two real transactions, one balance: exactly one hold wins."""
    balance_deposit(user=alice, asset=btc, amount=100)
    results = [
        type(outcome).__name__
        for outcome in run_concurrently(
            lambda: balance_hold(user=alice, asset=btc, amount=60), threads=2
        )
    ]
    assert sorted(results) == ["Balance", "InsufficientFunds"]
    b = _balance(alice, btc)
    assert (b.available, b.held) == (40, 60)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_holds_sum_exactly(alice, btc, assert_ledger):
    balance_deposit(user=alice, asset=btc, amount=1_000)

    def ten_holds() -> None:
        for _ in range(10):
            try:
                balance_hold(user=alice, asset=btc, amount=30)
            except InsufficientFunds:
                pass

    assert run_concurrently(ten_holds, threads=4) == [None] * 4
    b = _balance(alice, btc)
    # 40 attempts of 30 against 1,000: exactly 33 fit, nothing overdrawn.
    assert (b.available, b.held) == (10, 990)
    assert_ledger(holds=False)  # bare balance_hold: held for no order


@pytest.mark.django_db
def test_a_balance_never_passes_bigint(alice, bob, btc, assert_ledger):
    """Past 2^63-1 minor units PostgreSQL would fail and SQLite would turn the
    sum into a float: both paths refuse first, and nothing is written."""
    balance_deposit(user=alice, asset=btc, amount=MAX_UNITS - 10)
    with pytest.raises(DomainError) as single:
        balance_deposit(user=alice, asset=btc, amount=11)
    assert single.value.code == ErrorCode.VALIDATION_OUT_OF_RANGE
    with pytest.raises(DomainError) as several:
        balances_apply(
            changes=[
                BalanceChange(bob.pk, btc.pk, Wallet.SPOT, 5, 0, "deposit"),
                BalanceChange(alice.pk, btc.pk, Wallet.SPOT, 11, 0, "deposit"),
            ]
        )
    assert several.value.code == ErrorCode.VALIDATION_OUT_OF_RANGE
    row = Balance.objects.get(user=alice, asset=btc)
    assert (row.available, type(row.available)) == (MAX_UNITS - 10, int)
    assert not Balance.objects.filter(user=bob, available__gt=0).exists()
    balance_deposit(user=alice, asset=btc, amount=10)  # exactly the maximum fits
    assert Balance.objects.get(user=alice, asset=btc).available == MAX_UNITS
    assert_ledger(holds=False)


def test_the_hold_statement_takes_only_a_hold_for_its_own_order():
    """``hold_params`` feeds fixed SQL shaped for a hold whose order id comes
    from the statement: anything else is refused before it reaches SQL."""
    asset = Asset(pk=2, code="BTC", scale=8)
    event = NewEvent(1, "orders", {"id": "x"})
    hold = BalanceChange(1, 2, Wallet.SPOT, -5, 5, LedgerReason.HOLD)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    params = hold_params(hold, now, asset=asset, event=event)
    assert params.balance[:6] == [-5, 5, now, 1, 2, Wallet.SPOT]
    assert params.ledger[:5] == [1, 2, Wallet.SPOT, -5, 5]
    for not_a_hold in (
        BalanceChange(1, 2, Wallet.SPOT, 5, -5, LedgerReason.RELEASE),
        BalanceChange(1, 2, Wallet.SPOT, -5, 4, LedgerReason.HOLD),
        BalanceChange(1, 2, Wallet.SPOT, -5, 5, LedgerReason.HOLD, order_id=7),
        BalanceChange(1, 3, Wallet.SPOT, -5, 5, LedgerReason.HOLD),  # not asset
        BalanceChange(9, 2, Wallet.SPOT, -5, 5, LedgerReason.HOLD),  # not the user
    ):
        with pytest.raises(ValueError):
            hold_params(not_a_hold, now, asset=asset, event=event)
