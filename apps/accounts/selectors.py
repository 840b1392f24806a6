"""Reads of balances, the ledger audit and the private events journal."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Min, Sum
from django.utils import timezone

from apps.accounts.journal import AccountEventRow
from apps.accounts.models import (
    EXTERNAL_IN,
    EXTERNAL_OUT,
    Account,
    AccountEvent,
    AccountStream,
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


# ------------------------------------------------------- private events


def account_events_after(
    *, cursors: Sequence[tuple[int, str, int]], limit: int
) -> list[AccountEventRow]:
    """The events after each (user_id, channel, after_seq) cursor, at most
    ``limit`` PER CURSOR (the next ``limit`` seqs of its stream), in ONE
    statement, ordered by user_id, channel, seq.

    Seqs are gap-free, so a cursor's next ``limit`` events are exactly seqs
    ``after_seq + 1 .. after_seq + limit``: a range join against the cursors
    (arrays with ``unnest`` on PostgreSQL, a VALUES list on SQLite), each a
    range scan of the primary key, with no LATERAL (which SQLite lacks).
    Fewer than ``limit`` come back for a cursor near the stream's end, or
    before its first retained seq (``account_event_first_seq``): pruned
    events are not there."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not cursors:
        return []
    table = AccountEvent._meta.db_table
    columns = "e.user_id, e.channel, e.seq, e.payload, e.created_at"
    join = (
        "e.user_id = c.user_id AND e.channel = c.channel AND e.seq > c.after_seq "
        "AND e.seq <= c.after_seq + %s"
    )
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {columns} FROM unnest(%s::bigint[], %s::varchar[], "
                "%s::bigint[]) AS c(user_id, channel, after_seq) "
                f"JOIN {table} e ON {join} ORDER BY e.user_id, e.channel, e.seq",
                [
                    [c[0] for c in cursors],
                    [c[1] for c in cursors],
                    [c[2] for c in cursors],
                    limit,
                ],
            )
            rows = cursor.fetchall()
        else:
            # SQLite: the VALUES list a chunk at a time (3 parameters a
            # cursor); chunks cover disjoint streams, merged in order below.
            for start in range(0, len(cursors), _CURSOR_CHUNK):
                chunk = cursors[start : start + _CURSOR_CHUNK]
                values = ", ".join(["(CAST(%s AS INTEGER), %s, %s)"] * len(chunk))
                cursor.execute(
                    f"SELECT {columns} FROM (SELECT column1 AS user_id, column2 "
                    f"AS channel, column3 AS after_seq FROM (VALUES {values})) c "
                    f"JOIN {table} e ON {join}",
                    [*(v for c in chunk for v in c), limit],
                )
                rows += cursor.fetchall()
            rows.sort(key=lambda r: (r[0], r[1], r[2]))
    field = AccountEvent._meta.get_field("created_at")
    return [
        AccountEventRow(
            user_id,
            channel,
            seq,
            json.loads(payload) if isinstance(payload, str) else payload,
            _aware(field.to_python(created_at)),
        )
        for user_id, channel, seq, payload, created_at in rows
    ]


_CURSOR_CHUNK = 5_000


def _aware(moment: datetime) -> datetime:
    """SQLite's raw rows carry Django's naive-UTC text; PostgreSQL's are aware."""
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def account_event_last_seq(*, user_id: int, channel: str) -> int:
    """The stream's last seq (its counter; pruning never lowers it), 0 if it
    never had an event."""
    last = (
        AccountStream.objects.filter(user_id=user_id, channel=channel)
        .values_list("last_seq", flat=True)
        .first()
    )
    return last or 0


def account_event_first_seq(*, user_id: int, channel: str) -> int | None:
    """The stream's oldest retained seq; None when none is retained (never
    an event, or all older than the retention and pruned): a resume from
    below it cannot be served from the journal."""
    return AccountEvent.objects.filter(user_id=user_id, channel=channel).aggregate(
        m=Min("seq")
    )["m"]
