"""The money use cases: deposits, withdrawals, holds, releases, transfers,
staff adjustments, and the accounts that own balances.

Each is one ``BalanceChange`` (or two, for a transfer) applied by the ledger
mechanism (``apps.accounts.ledger``), which writes every balance and its
ledger entry. Other apps move money through these services or through
``balances_apply_in_transaction`` inside their own transaction (the matcher's
batches, the order path); the order path's one PostgreSQL statement composes
the ledger's hold CTEs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.accounts.errors import InvalidTransfer
from apps.accounts.journal import events_delete_before
from apps.accounts.ledger import (
    BalanceChange,
    BalanceKey,
    balances_apply_in_transaction,
)
from apps.accounts.models import Account, Balance, LedgerReason, Tier, Wallet
from apps.apikeys.services import apikeys_follow_market_maker_tier
from apps.core.errors import ValidationFailed
from apps.markets.models import Asset


@transaction.atomic
def balances_apply(
    *, changes: Sequence[BalanceChange], assets: Sequence[Asset] = ()
) -> dict[BalanceKey, Balance]:
    """Apply ``changes`` atomically, with their ledger entries and events (see
    ``balances_apply_in_transaction``, which this wraps in a savepoint);
    ``assets``: those of the changes at hand."""
    return balances_apply_in_transaction(
        changes=changes, assets={asset.pk: asset for asset in assets}
    )


def _positive(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed("Amount must be a positive integer of minor units.")


def _wallet(wallet: str) -> str:
    if wallet not in Wallet.values:
        raise ValidationFailed(
            f"Unknown wallet {wallet!r}.", details={"wallet": wallet}
        )
    return wallet


def _one(change: BalanceChange, asset: Asset) -> Balance:
    return balances_apply(changes=[change], assets=[asset])[change.key]


def balance_deposit(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    reason: str = LedgerReason.DEPOSIT,
    ref: str = "",
) -> Balance:
    """Credit ``amount`` to available (deposit, faucet). Locks the one row."""
    _positive(amount)
    if reason not in (LedgerReason.DEPOSIT, LedgerReason.FAUCET):
        raise ValidationFailed("A deposit's reason is deposit or faucet.")
    return _one(
        BalanceChange(user.pk, asset.pk, _wallet(wallet), amount, 0, reason, ref=ref),
        asset,
    )


def balance_withdraw(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    ref: str = "",
    from_held: bool = False,
) -> Balance:
    """Debit ``amount`` leaving the exchange, from available (or from a
    withdrawal's earlier hold when ``from_held``). Locks the one row."""
    _positive(amount)
    d_avail, d_held = (0, -amount) if from_held else (-amount, 0)
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            d_avail,
            d_held,
            LedgerReason.WITHDRAWAL,
            ref=ref,
        ),
        asset,
    )


def balance_hold(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    order_id: int | None = None,
    ref: str = "",
) -> Balance:
    """Move ``amount`` from available to held. Locks the one row; raises
    InsufficientFunds when available is short."""
    _positive(amount)
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            -amount,
            amount,
            LedgerReason.HOLD,
            order_id=order_id,
            ref=ref,
        ),
        asset,
    )


def balance_release(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    order_id: int | None = None,
    ref: str = "",
) -> Balance:
    """Move ``amount`` from held back to available. Locks the one row."""
    _positive(amount)
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            amount,
            -amount,
            LedgerReason.RELEASE,
            order_id=order_id,
            ref=ref,
        ),
        asset,
    )


def balance_transfer(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    from_wallet: str,
    to_wallet: str,
    ref: str = "",
) -> tuple[Balance, Balance]:
    """Move available funds between two of the user's wallets. Locks both rows
    (in the stable order)."""
    _positive(amount)
    if _wallet(from_wallet) == _wallet(to_wallet):
        raise InvalidTransfer("Source and destination wallets are the same.")
    out = BalanceChange(
        user.pk, asset.pk, from_wallet, -amount, 0, LedgerReason.TRANSFER, ref=ref
    )
    into = BalanceChange(
        user.pk, asset.pk, to_wallet, amount, 0, LedgerReason.TRANSFER, ref=ref
    )
    rows = balances_apply(changes=[out, into], assets=[asset])
    return rows[out.key], rows[into.key]


def balance_adjust(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    delta: int,
    wallet: str = Wallet.SPOT,
    ref: str,
) -> Balance:
    """Staff correction of available funds (admin action), always with a reason
    text in ``ref``. Counts as an external flow in the ledger check."""
    if not isinstance(delta, int) or delta == 0:
        raise ValidationFailed("An adjustment is a non-zero integer of minor units.")
    if not ref.strip():
        raise ValidationFailed("An adjustment needs a reason.")
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            delta,
            0,
            LedgerReason.ADJUSTMENT,
            ref=ref[:64],
        ),
        asset,
    )


@transaction.atomic
def account_create(
    *,
    username: str,
    password: str | None = None,
    email: str = "",
    tier: str = Tier.UNVERIFIED,
) -> AbstractBaseUser:
    """Create a user and its exchange account."""
    user = get_user_model().objects.create_user(
        username=username, email=email, password=password
    )
    Account.objects.create(user=user, tier=tier)
    return user


@transaction.atomic
@transaction.atomic
def account_set_tier(
    *, user: AbstractBaseUser, tier: str, actor: Any = None, ip: str | None = None
) -> Account:
    """Set the user's verification tier (staff). It decides the book depth the
    user may read (``DEEP_BOOK_TIERS``) from the next request or WebSocket
    ``auth`` on, and the rate tier of the user's keys: becoming (or ceasing
    to be) a market maker moves their keys to (or from) the market-maker
    budget (``apikeys_follow_market_maker_tier``; ``actor``/``ip`` go into
    each key's change record). Locks the account row (created if missing)."""
    try:
        clean = Tier(tier)
    except ValueError:
        raise ValidationFailed(
            f"Unknown tier {str(tier)[:32]!r}.",
            details={"fields": {"tier": [f"Use one of {', '.join(Tier.values)}."]}},
        ) from None
    account_get(user=user)
    account = Account.objects.select_for_update().get(user=user)
    if account.tier != clean:
        was_market_maker = account.tier == Tier.MARKET_MAKER
        account.tier = clean
        account.save(update_fields=["tier"])
        if was_market_maker != (clean == Tier.MARKET_MAKER):
            apikeys_follow_market_maker_tier(
                user=user, market_maker=not was_market_maker, actor=actor, ip=ip
            )
    return account


def account_get(*, user: AbstractBaseUser) -> Account:
    """The user's Account, created on first use for users made outside
    ``account_create`` (createsuperuser, admin)."""
    account, _ = Account.objects.get_or_create(user=user)
    return account


def fee_user() -> AbstractBaseUser:
    """The system user whose balances collect trading fees."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=settings.FEE_ACCOUNT_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Account.objects.get_or_create(user=user, defaults={"is_system": True})
    return user


# The journal serves resumes of at least this long, whatever the setting.
MIN_KEEP_HOURS = 24
PRUNE_CHUNK = 5_000


def account_events_keep_hours() -> int:
    """ACCOUNT_EVENTS_KEEP_HOURS, never below MIN_KEEP_HOURS."""
    return max(MIN_KEEP_HOURS, int(settings.ACCOUNT_EVENTS_KEEP_HOURS))


def account_events_prune(
    *, now: datetime | None = None, max_rows: int | None = None
) -> int:
    """Delete private events older than the retention
    (``account_events_keep_hours``); the streams' counters stay, so seqs
    continue. Chunks of PRUNE_CHUNK rows, each its own short transaction
    (no lock is held long against the writers); stops after ``max_rows``
    (None: until none is left). Returns how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(hours=account_events_keep_hours())
    deleted = 0
    while max_rows is None or deleted < max_rows:
        chunk = (
            PRUNE_CHUNK if max_rows is None else min(PRUNE_CHUNK, max_rows - deleted)
        )
        with transaction.atomic():
            n = events_delete_before(cutoff=cutoff, limit=chunk)
        deleted += n
        if n < chunk:
            break
    return deleted
