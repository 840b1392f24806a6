"""Reads of balances and the ledger audit."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Sum

from apps.accounts.models import (
    EXTERNAL_IN,
    EXTERNAL_OUT,
    Account,
    Balance,
    LedgerEntry,
    Tier,
    Wallet,
    Withdrawal,
)
from apps.core.errors import DomainError, ErrorCode
from apps.markets.models import Asset


def ledger_problems() -> list[str]:
    """Every way the books disagree with the ledger; empty when consistent.

    1. each balance row equals the sum of its ledger entries (available, held);
    2. per asset, entries of internal reasons (hold, release, trade, fee,
       transfer) sum to zero: they only move value between rows;
    3. per asset, all balances sum to deposits minus withdrawals (the external
       entries).
    """
    problems: list[str] = []
    sums = {
        (r["user_id"], r["asset_id"], r["wallet"]): (r["a"], r["h"])
        for r in LedgerEntry.objects.values("user_id", "asset_id", "wallet").annotate(
            a=Sum("delta_available"), h=Sum("delta_held")
        )
    }
    totals: dict[int, int] = defaultdict(int)
    for b in Balance.objects.all():
        key = (b.user_id, b.asset_id, b.wallet)
        if sums.pop(key, (0, 0)) != (b.available, b.held):
            problems.append(
                f"balance {key} = ({b.available}, {b.held}) differs from its ledger"
            )
        totals[b.asset_id] += b.available + b.held
    for key, value in sums.items():
        if value != (0, 0):
            problems.append(f"ledger {key} sums to {value} without a balance row")
    external_reasons = [*EXTERNAL_IN, *EXTERNAL_OUT]
    by_asset = LedgerEntry.objects.values("asset_id")
    for row in by_asset.exclude(reason__in=external_reasons).annotate(
        s=Sum("delta_available") + Sum("delta_held")
    ):
        if row["s"] != 0:
            problems.append(
                f"asset {row['asset_id']}: internal moves sum to {row['s']}"
            )
    external = {
        r["asset_id"]: r["s"]
        for r in by_asset.filter(reason__in=external_reasons).annotate(
            s=Sum("delta_available") + Sum("delta_held")
        )
    }
    for asset_id in set(totals) | set(external):
        if totals.get(asset_id, 0) != external.get(asset_id, 0):
            problems.append(
                f"asset {asset_id}: balances {totals.get(asset_id, 0)} != "
                f"deposits - withdrawals {external.get(asset_id, 0)}"
            )
    return problems


def ledger_consistent() -> bool:
    return not ledger_problems()


def account_tier_get(*, user_id: int) -> str:
    """The user's verification tier; unverified when no Account row exists yet."""
    tier = (
        Account.objects.filter(user_id=user_id).values_list("tier", flat=True).first()
    )
    return tier or Tier.UNVERIFIED


@dataclass(frozen=True, slots=True)
class WalletBalance:
    asset: Asset
    available: int  # minor units
    held: int

    @property
    def total(self) -> int:
        return self.available + self.held


def balances_by_wallet(*, user_id: int) -> dict[str, list[WalletBalance]]:
    """Every wallet (spot, margin, earn) with every asset, by asset code; an
    asset the user never held shows as zero."""
    assets = list(Asset.objects.order_by("code"))
    rows = {
        (b.wallet, b.asset_id): b
        for b in Balance.objects.filter(user_id=user_id).only(
            "wallet", "asset_id", "available", "held"
        )
    }
    result: dict[str, list[WalletBalance]] = {}
    for wallet in Wallet.values:
        result[wallet] = []
        for asset in assets:
            row = rows.get((wallet, asset.pk))
            available, held = (row.available, row.held) if row else (0, 0)
            result[wallet].append(WalletBalance(asset, available, held))
    return result


def withdrawal_get_for_user(*, user_id: int, withdrawal_id: str) -> Withdrawal:
    """The user's withdrawal by its public id; NOT_FOUND for a malformed id,
    an unknown one or another user's (never says which)."""
    try:
        public_id = uuid.UUID(withdrawal_id)
    except (ValueError, TypeError, AttributeError):
        public_id = None
    withdrawal = None
    if public_id is not None:
        withdrawal = (
            Withdrawal.objects.select_related("asset")
            .filter(uuid=public_id, user_id=user_id)
            .first()
        )
    if withdrawal is None:
        raise DomainError(
            "No such withdrawal.",
            code=ErrorCode.ACCOUNT_WITHDRAWAL_NOT_FOUND,
            details={"withdrawal_id": withdrawal_id[:64]},
        )
    return withdrawal
