"""The batch path: lock the rows in key order, apply the changes in Python,
write all rows in one UPDATE and the entries in one INSERT (see the package)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection
from django.db.models import Q

from apps.accounts.errors import InsufficientFunds
from apps.accounts.ledger.changes import (
    LEDGER_COLUMNS,
    BalanceChange,
    BalanceKey,
    ledger_row,
)
from apps.accounts.models import Balance, LedgerEntry
from apps.core.bulk import bulk_insert, db_datetime
from apps.core.errors import DomainError, ErrorCode
from apps.core.money import MAX_UNITS

_LOCK_CHUNK = 250  # keys per SELECT: SQLite refuses expression trees past depth 1000
_WRITE_CHUNK = 2_000  # 4 parameters a row: under SQLite's 32,766
_BALANCE_COLUMNS = "id, user_id, asset_id, wallet, available, held, updated_at"


def apply_batch(
    changes: Sequence[BalanceChange], now: datetime
) -> dict[BalanceKey, Balance]:
    """Apply ``changes`` in order, locking their rows first (in key order);
    raises InsufficientFunds or VALIDATION_OUT_OF_RANGE before writing
    anything if a running value would leave [0, MAX_UNITS]."""
    keys = sorted({c.key for c in changes})
    rows = _lock_rows(keys)
    missing = [k for k in keys if k not in rows]
    if missing:
        Balance.objects.bulk_create(
            [Balance(user_id=u, asset_id=a, wallet=w) for u, a, w in missing],
            ignore_conflicts=True,
        )
        rows.update(_lock_rows(missing))
    entries = []
    for change in changes:
        row = rows[change.key]
        row.available += change.d_available
        row.held += change.d_held
        if row.available < 0 or row.held < 0:
            raise InsufficientFunds(
                details={"asset_id": change.asset_id, "wallet": change.wallet}
            )
        if row.available > MAX_UNITS or row.held > MAX_UNITS:
            raise DomainError(
                "The balance would exceed what the exchange stores.",
                code=ErrorCode.VALIDATION_OUT_OF_RANGE,
                details={"asset_id": change.asset_id, "wallet": change.wallet},
            )
        entries.append(ledger_row(change, row.available, row.held, now))
    _write_rows(list(rows.values()), now)
    bulk_insert(LedgerEntry, LEDGER_COLUMNS, entries)
    return rows


def _lock_rows(keys: list[BalanceKey]) -> dict[BalanceKey, Balance]:
    """Lock the rows of ``keys`` (sorted), chunk by chunk in key order, so the
    global lock order holds across chunks too."""
    if connection.vendor == "postgresql":
        return _lock_rows_pg(keys)
    found: dict[BalanceKey, Balance] = {}
    for start in range(0, len(keys), _LOCK_CHUNK):
        chunk = keys[start : start + _LOCK_CHUNK]
        where = reduce(or_, (Q(user_id=u, asset_id=a, wallet=w) for u, a, w in chunk))
        rows = (
            Balance.objects.select_for_update()
            .filter(where)
            .order_by("user_id", "asset_id", "wallet")
        )
        found.update({(b.user_id, b.asset_id, b.wallet): b for b in rows})
    return found


def _lock_rows_pg(keys: list[BalanceKey]) -> dict[BalanceKey, Balance]:
    """PostgreSQL: one statement whatever the number of keys, the keys passed
    as three arrays, so the query text is fixed and psycopg prepares it (a
    query that grows with its data is re-parsed in Python every time)."""
    table = Balance._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_BALANCE_COLUMNS} FROM {table} WHERE (user_id, asset_id, wallet) IN "
            "(SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[])) "
            "ORDER BY user_id, asset_id, wallet FOR UPDATE",
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]],
        )
        rows = [Balance(*row) for row in cursor.fetchall()]
    for row in rows:
        row._state.adding, row._state.db = False, "default"
    return {(b.user_id, b.asset_id, b.wallet): b for b in rows}


def _write_rows(rows: list[Balance], now: Any) -> None:
    """The locked rows' new values: one UPDATE ... FROM a list of (id,
    available, held), which bulk_update's CASE per column costs more to build
    than to run. PostgreSQL: one fixed statement with array parameters;
    SQLite: the same as VALUES, a chunk at a time."""
    for row in rows:
        row.updated_at = now
    table = Balance._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} b SET available = v.available, held = v.held, "
                "updated_at = %s FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS v(id, available, held) WHERE b.id = v.id",
                [
                    now,
                    [r.pk for r in rows],
                    [r.available for r in rows],
                    [r.held for r in rows],
                ],
            )
        return
    for start in range(0, len(rows), _WRITE_CHUNK):
        chunk = rows[start : start + _WRITE_CHUNK]
        values = ", ".join(
            ["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT))"]
            * len(chunk)
        )
        params: list[Any] = [db_datetime(now)]
        for row in chunk:
            params += [row.pk, row.available, row.held]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET available = v.column2, held = v.column3, "
                f"updated_at = %s FROM (VALUES {values}) AS v "
                f"WHERE {table}.id = v.column1 "
                # By primary key: joined with VALUES alone the planner may
                # scan the table.
                f"AND {table}.id IN ({', '.join(['%s'] * len(chunk))})",
                [*params, *(row.pk for row in chunk)],
            )
