"""Reads of balances and the ledger audit."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Sum

from apps.accounts.models import EXTERNAL_IN, EXTERNAL_OUT, Balance, LedgerEntry


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
            problems.append(f"balance {key} = ({b.available}, {b.held}) differs from its ledger")
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
            problems.append(f"asset {row['asset_id']}: internal moves sum to {row['s']}")
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


def balances_for_user(*, user_id: int) -> list[Balance]:
    return list(
        Balance.objects.filter(user_id=user_id).select_related("asset").order_by("wallet", "asset__code")
    )
