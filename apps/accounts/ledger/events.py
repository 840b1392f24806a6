"""The ``balances`` events the ledger journals: one per balance row a
transaction changes, with the row's state after the transaction, the
reason of the transaction's first change to it, and amounts formatted as
the REST balances body formats them (``format_units``, the asset's scale).

One event per row and transaction, not per ledger entry: the states between
a transaction's entries were never visible to anyone, and a matcher batch
changes a busy account's row many times (trades, fees, releases); its
client needs the committed result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from apps.accounts.journal import NewEvent
from apps.accounts.ledger.changes import BalanceChange, BalanceKey
from apps.accounts.models import AccountChannel, Balance
from apps.core.api.formats import unix_ms
from apps.core.money import format_units
from apps.markets.models import Asset


def balance_payload(
    *,
    code: str,
    scale: int,
    wallet: str,
    available: int,
    held: int,
    reason: str,
    ts: int,
) -> dict[str, Any]:
    return {
        "asset": code,
        "wallet": wallet,
        "available": format_units(available, scale),
        "held": format_units(held, scale),
        "total": format_units(available + held, scale),
        "reason": reason,
        "ts": ts,
    }


def balance_events(
    changes: Sequence[BalanceChange],
    rows: Mapping[BalanceKey, Balance],
    now: datetime,
    assets: Mapping[int, Asset] | None = None,
) -> list[NewEvent]:
    """The events of ``changes``, applied, leaving ``rows``: one per row, in
    the order of the rows' first changes. ``assets`` (by id) are the ones the
    caller has at hand; any other is read (one query)."""
    first_reason: dict[BalanceKey, str] = {}
    for change in changes:
        first_reason.setdefault(change.key, str(change.reason))
    if not first_reason:
        return []
    formats = {pk: (a.code, a.scale) for pk, a in (assets or {}).items()}
    missing = {key[1] for key in first_reason} - formats.keys()
    if missing:
        formats.update(
            (pk, (code, scale))
            for pk, code, scale in Asset.objects.filter(pk__in=missing).values_list(
                "pk", "code", "scale"
            )
        )
    ts = unix_ms(now)
    events = []
    for key, reason in first_reason.items():
        row = rows[key]
        code, scale = formats[key[1]]
        events.append(
            NewEvent(
                key[0],
                AccountChannel.BALANCES,
                balance_payload(
                    code=code,
                    scale=scale,
                    wallet=key[2],
                    available=row.available,
                    held=row.held,
                    reason=reason,
                    ts=ts,
                ),
            )
        )
    return events


def unit_multiplier(scale: int) -> str:
    """One minor unit as decimal text ("0.00000001" for scale 8, "1" for 0):
    an integer of minor units times this, in SQL NUMERIC, is exact and keeps
    exactly ``scale`` decimals, so its text equals ``format_units``."""
    return "1" if scale == 0 else "0." + "0" * (scale - 1) + "1"


def balance_payload_sql(source: str, doc: str) -> str:
    """``balance_payload`` as a PostgreSQL expression over the ``available``
    and ``held`` columns of the CTE ``source`` and the keys of the JSON
    document ``doc`` (``balance_payload_doc``), for the order path's one
    statement. Amounts are never negative (CHECK constraints), the one case
    where NUMERIC's text and ``format_units`` could differ ("-0.5" vs
    "-0.50")."""
    unit = f"({doc} ->> 'unit')::numeric"
    return (
        f"json_build_object('asset', {doc} -> 'asset', 'wallet', {doc} -> 'wallet', "
        f"'available', ({source}.available::numeric * {unit})::text, "
        f"'held', ({source}.held::numeric * {unit})::text, "
        f"'total', (({source}.available::numeric + {source}.held::numeric) "
        f"* {unit})::text, 'reason', {doc} -> 'reason', 'ts', {doc} -> 'ts')"
    )


def balance_payload_doc(
    *, code: str, scale: int, wallet: str, reason: str, ts: int
) -> dict[str, Any]:
    """The keys ``balance_payload_sql`` reads from its document."""
    return {
        "asset": code,
        "wallet": wallet,
        "unit": unit_multiplier(scale),
        "reason": reason,
        "ts": ts,
    }
