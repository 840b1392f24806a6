"""Accounts, balances and the ledger.

A balance row is (user, asset, wallet) with ``available`` and ``held`` integer
minor units, both >= 0 by database CHECK. Rows change only through the SQL of
``apps.accounts.ledger``, which writes a LedgerEntry in the same transaction
(the use cases are ``apps.accounts.services``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.fields import JSONTextField


class Tier(models.TextChoices):
    UNVERIFIED = "unverified", "Unverified"
    VERIFIED = "verified", "Verified"
    MARKET_MAKER = "market_maker", "Market maker"


# Tiers that may read the book 1,000 levels deep (REST and WebSocket).
DEEP_BOOK_TIERS = frozenset({Tier.VERIFIED, Tier.MARKET_MAKER})


class Wallet(models.TextChoices):
    SPOT = "spot", "Spot"
    MARGIN = "margin", "Margin"
    EARN = "earn", "Earn"


class Account(models.Model):
    """Exchange-specific facts about a Django user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    tier = models.CharField(
        max_length=16, choices=Tier.choices, default=Tier.UNVERIFIED
    )
    is_system = models.BooleanField(
        default=False, help_text="The exchange's own accounts (fee collection)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.tier})"


class Balance(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="balances"
    )
    asset = models.ForeignKey("markets.Asset", on_delete=models.PROTECT)
    wallet = models.CharField(max_length=8, choices=Wallet.choices, default=Wallet.SPOT)
    available = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "asset", "wallet"], name="balance_user_asset_wallet"
            ),
            models.CheckConstraint(
                condition=Q(available__gte=0), name="balance_available_gte_0"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="balance_held_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.asset_id}/{self.wallet}"

    @property
    def total(self) -> int:
        return self.available + self.held


class LedgerReason(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    HOLD = "hold", "Hold"
    RELEASE = "release", "Release"
    TRADE = "trade", "Trade"
    FEE = "fee", "Fee"
    TRANSFER = "transfer", "Transfer"
    FAUCET = "faucet", "Faucet"
    ADJUSTMENT = "adjustment", "Adjustment"


# Reasons that bring assets into or out of the exchange; every other reason only
# moves value between rows and must sum to zero per asset.
EXTERNAL_IN = (LedgerReason.DEPOSIT, LedgerReason.FAUCET, LedgerReason.ADJUSTMENT)
EXTERNAL_OUT = (LedgerReason.WITHDRAWAL,)


class LedgerEntry(models.Model):
    # No index of its own: ledger_balance_idx starts with it. Every index is
    # written on every insert, and entries are the hottest insert there is.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, db_index=False
    )
    asset = models.ForeignKey("markets.Asset", on_delete=models.PROTECT)
    wallet = models.CharField(max_length=8, choices=Wallet.choices)
    delta_available = models.BigIntegerField()
    delta_held = models.BigIntegerField()
    available_after = models.BigIntegerField()
    held_after = models.BigIntegerField()
    reason = models.CharField(max_length=16, choices=LedgerReason.choices)
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    trade = models.ForeignKey(
        "orders.Trade",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    ref = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(
                fields=["user", "asset", "wallet", "id"], name="ledger_balance_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.delta_available:+}/{self.delta_held:+}"


class WithdrawalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Withdrawal(models.Model):
    """A request to send ``amount`` of ``asset`` out of the exchange.

    While pending, the amount sits in the wallet's ``held`` (a ledger hold);
    completing debits it from held (reason withdrawal), failing releases it.
    Rows change only through ``apps.accounts.withdrawals``.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    asset = models.ForeignKey(
        "markets.Asset", on_delete=models.PROTECT, related_name="+"
    )
    wallet = models.CharField(max_length=8, choices=Wallet.choices, default=Wallet.SPOT)
    amount = models.BigIntegerField(help_text="Minor units of the asset.")
    address = models.CharField(max_length=128)
    status = models.CharField(
        max_length=16,
        choices=WithdrawalStatus.choices,
        default=WithdrawalStatus.PENDING,
    )
    txid = models.CharField(max_length=128, blank=True, default="")
    failure_reason = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="withdrawal_amount_gt_0"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "id"], name="withdrawal_status"),
            models.Index(fields=["user", "-id"], name="withdrawal_user"),
        ]

    def __str__(self) -> str:
        return str(self.uuid)


class AccountChannel(models.TextChoices):
    """The private streams of an account (docs/architecture.md, "Private
    events journal")."""

    ORDERS = "orders", "Orders"
    FILLS = "fills", "Fills"
    BALANCES = "balances", "Balances"


class AccountStream(models.Model):
    """The counter of one (user, channel) stream: the seq of its last event.

    Written only by ``apps.accounts.journal``, in the transaction that writes
    the events, so seqs are gap-free; pruning old events never touches it.
    System users (``Account.is_system``) have none: their changes are not
    journaled, so unrelated matchers never queue on the fee account's row."""

    pk = models.CompositePrimaryKey("user", "channel")
    # No index of its own: the primary key's leads with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    channel = models.CharField(max_length=8, choices=AccountChannel.choices)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user_id}/{self.channel}@{self.last_seq}"


class AccountEvent(models.Model):
    """One private event of an account: gap-free ``seq`` per (user, channel),
    from 1, written in the same transaction as the change it reports.

    The primary key is the stream position itself: it is the one index the
    resume query needs (``user_id = ? AND channel = ? AND seq > ? ORDER BY
    seq``), and a surrogate id would cost every insert a second index.
    ``created_at`` is indexed for pruning (``account_events_prune``)."""

    pk = models.CompositePrimaryKey("user", "channel", "seq")
    # No constraint in the database: an event is written only after its
    # stream's counter row (whose foreign key checks the user) in the same
    # transaction, and a per-row check at commit would cost the matcher's
    # batches one lookup per event.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=AccountChannel.choices)
    seq = models.BigIntegerField()
    payload = JSONTextField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="account_event_created")]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.channel}#{self.seq}"
