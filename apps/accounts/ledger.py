"""The ledger mechanism: the only SQL that writes balances and ledger entries.

A change is a ``BalanceChange``. Each one writes a LedgerEntry, built by
``_ledger_row``, in the transaction that moves the balance. A balance moves in
one of two ways:

- **Single row** (``_balance_update``): one ``UPDATE ... RETURNING`` of one
  row, its lock the UPDATE's own, a negative result refused by the CHECK
  constraints (``overdraft_refused`` reads that as InsufficientFunds), the
  result kept within BIGINT by guards. ``balances_apply_in_transaction`` runs
  it for a lone change, then inserts the entry. ``hold_ctes`` gives the same
  UPDATE and the entry's INSERT to the order path, which runs them as CTEs of
  its one PostgreSQL statement without knowing either table's columns.
- **Batch** (``_apply_batch``): lock every touched row FOR UPDATE in
  (user_id, asset_id, wallet) order, so two transactions never wait on each
  other in a cycle; create missing rows; apply the deltas in Python, refusing
  any negative or oversized running value; then one UPDATE of all the rows
  and one bulk INSERT of the entries. Used for several changes (the
  matcher's batches, transfers), and for a lone change the single-row UPDATE
  could not apply (missing row, or past BIGINT), to get the exact answer.

The use cases (deposit, hold, transfer, ...) are in ``services``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.errors import InsufficientFunds
from apps.accounts.models import Balance, LedgerEntry
from apps.core.bulk import bulk_insert, cast_param, db_datetime, insert_returning_id
from apps.core.errors import DomainError, ErrorCode
from apps.core.money import MAX_UNITS

BalanceKey = tuple[int, int, str]  # (user_id, asset_id, wallet)


@dataclass(frozen=True, slots=True)
class BalanceChange:
    user_id: int
    asset_id: int
    wallet: str
    d_available: int
    d_held: int
    reason: str
    order_id: int | None = None
    trade_id: int | None = None
    ref: str = ""

    @property
    def key(self) -> BalanceKey:
        return (self.user_id, self.asset_id, self.wallet)


LEDGER_COLUMNS = (
    "user_id",
    "asset_id",
    "wallet",
    "delta_available",
    "delta_held",
    "available_after",
    "held_after",
    "reason",
    "order_id",
    "trade_id",
    "ref",
    "created_at",
)


def _ledger_row(
    change: BalanceChange, available: int | None, held: int | None, now: Any
) -> tuple[Any, ...]:
    """The ledger entry of ``change`` leaving its row at (available, held),
    in LEDGER_COLUMNS order. The one builder of entries, for every path."""
    return (
        change.user_id,
        change.asset_id,
        change.wallet,
        change.d_available,
        change.d_held,
        available,
        held,
        str(change.reason),
        change.order_id,
        change.trade_id,
        change.ref,
        now,
    )


def balances_apply_in_transaction(
    *, changes: Sequence[BalanceChange]
) -> dict[BalanceKey, Balance]:
    """Apply ``changes`` with their ledger entries, for a caller whose open
    transaction rolls back as a whole on any error (the matcher's batch, the
    order path): no savepoint of its own.

    Locks: every touched Balance row, FOR UPDATE, ordered by (user_id, asset_id,
    wallet). Missing rows are created first (INSERT ... ON CONFLICT DO NOTHING),
    then locked. Raises InsufficientFunds (and writes nothing) if any running
    value would go below zero.
    """
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("needs an open transaction")
    if not changes:
        return {}
    if len(changes) == 1:
        single = _apply_single(changes[0])
        if single is not None:
            return {changes[0].key: single}
    return _apply_batch(changes)


# The single-row path.


@functools.cache
def _balance_update_sql(guard_available: bool, guard_held: bool) -> str:
    """UPDATE ... RETURNING id, available, held of one (user, asset, wallet)
    row; it updates and returns nothing when the row does not exist or a
    guard fails. A guard keeps a growing column within BIGINT, in NUMERIC:
    SQLite would silently turn an overflowing sum into a float. A column that
    does not grow needs none. Fixed texts, so psycopg prepares them."""
    guarded = (("available", guard_available), ("held", guard_held))
    guards = "".join(
        f"AND CAST({column} AS NUMERIC) + %s <= %s " for column, on in guarded if on
    )
    return (
        f"UPDATE {connection.ops.quote_name(Balance._meta.db_table)} "
        "SET available = available + %s, held = held + %s, updated_at = %s "
        "WHERE user_id = %s AND asset_id = %s AND wallet = %s "
        f"{guards}RETURNING id, available, held"
    )


def _balance_update(change: BalanceChange, now: Any) -> tuple[str, list[Any]]:
    """The single-row UPDATE of ``change`` and its parameters."""
    grows_available, grows_held = change.d_available > 0, change.d_held > 0
    params = [
        change.d_available,
        change.d_held,
        now,
        change.user_id,
        change.asset_id,
        change.wallet,
    ]
    if grows_available:
        params += [change.d_available, MAX_UNITS]
    if grows_held:
        params += [change.d_held, MAX_UNITS]
    return _balance_update_sql(grows_available, grows_held), params


def _apply_single(change: BalanceChange) -> Balance | None:
    """One change to an existing row: the UPDATE, then its entry's INSERT.
    Half the round trips of SELECT FOR UPDATE + UPDATE. Returns None, having
    written nothing, when the UPDATE matched no row (the batch path then
    creates the row or refuses the overflow)."""
    now = timezone.now()
    sql, params = _balance_update(change, db_datetime(now))
    # No savepoint of its own: the caller's transaction rolls back on error.
    with overdraft_refused(change), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    entry = _ledger_row(change, row[1], row[2], now)
    insert_returning_id(LedgerEntry, dict(zip(LEDGER_COLUMNS, entry, strict=True)))
    return Balance(
        id=row[0],
        user_id=change.user_id,
        asset_id=change.asset_id,
        wallet=change.wallet,
        available=row[1],
        held=row[2],
    )


class HoldCtes(NamedTuple):
    """The bodies of two CTEs of a caller's statement; see ``hold_ctes``."""

    balance: str
    ledger: str


# The entry's columns that the statement fills from its CTEs.
_FROM_STATEMENT = frozenset({"available_after", "held_after", "order_id"})


@functools.cache
def hold_ctes(*, balance: str, order: str) -> HoldCtes:
    """A hold for an order, as two CTEs of the caller's one statement that
    also inserts the order (PostgreSQL), the caller naming the CTEs:

        WITH {balance} AS (<.balance>),
             {order} AS (INSERT INTO <order table> ... FROM {balance} RETURNING id),
             <any name> AS (<.ledger>), ...

    ``.balance`` is the single-row UPDATE. It is empty when the row is missing
    or the result would pass BIGINT: the order's INSERT selects FROM it so
    that nothing is written then, and the caller takes the general path for
    the exact answer. A negative result raises (run the statement inside
    ``overdraft_refused``). ``.ledger`` inserts the hold's entry, reading the
    balance after the change from ``{balance}`` and the order's id from
    ``{order}``. The texts are fixed; ``hold_params`` gives the parameters."""
    q = connection.ops.quote_name
    exprs = {c: cast_param(LedgerEntry, c) for c in LEDGER_COLUMNS}
    exprs.update(
        available_after=f"{balance}.available",
        held_after=f"{balance}.held",
        order_id=f"{order}.id",
    )
    ledger = (
        f"INSERT INTO {q(LedgerEntry._meta.db_table)} "
        f"({', '.join(q(c) for c in exprs)}) "
        f"SELECT {', '.join(exprs.values())} FROM {balance}, {order}"
    )
    return HoldCtes(_balance_update_sql(False, True), ledger)


def hold_params(change: BalanceChange, now: Any) -> tuple[list[Any], list[Any]]:
    """The parameters of the two ``hold_ctes`` for ``change``: a hold (a
    positive amount from available to held) for the order of the statement,
    whose id the statement supplies."""
    if not (change.d_held > 0 and change.d_available == -change.d_held):
        raise ValueError(f"not a hold: {change}")
    if change.order_id is not None:
        raise ValueError("the statement supplies the order id")
    entry = _ledger_row(change, None, None, now)
    return _balance_update(change, now)[1], [
        value
        for column, value in zip(LEDGER_COLUMNS, entry, strict=True)
        if column not in _FROM_STATEMENT
    ]


_NON_NEGATIVE = frozenset({"balance_available_gte_0", "balance_held_gte_0"})


def _violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint ``exc`` reports, by the driver's own field,
    never by searching the message (whose DETAIL may quote client data)."""
    diag = getattr(exc.__cause__, "diag", None)  # psycopg
    if diag is not None:
        return diag.constraint_name
    message = str(exc)  # sqlite3: "CHECK constraint failed: <name>"
    if message.startswith("CHECK constraint failed: "):
        return message.removeprefix("CHECK constraint failed: ").strip()
    return None


@contextmanager
def overdraft_refused(change: BalanceChange) -> Iterator[None]:
    """Inside, an IntegrityError from a balance's CHECK constraint (a negative
    available or held) while applying ``change`` becomes InsufficientFunds;
    any other IntegrityError (a unique violation, ...) propagates unchanged."""
    try:
        yield
    except IntegrityError as exc:
        if _violated_constraint(exc) in _NON_NEGATIVE:
            raise InsufficientFunds(
                details={"asset_id": change.asset_id, "wallet": change.wallet}
            ) from exc
        raise


# The batch path.

_LOCK_CHUNK = 250  # keys per SELECT: SQLite refuses expression trees past depth 1000
_WRITE_CHUNK = 2_000  # 4 parameters a row: under SQLite's 32,766
_BALANCE_COLUMNS = "id, user_id, asset_id, wallet, available, held, updated_at"


def _apply_batch(changes: Sequence[BalanceChange]) -> dict[BalanceKey, Balance]:
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
    now = timezone.now()
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
        entries.append(_ledger_row(change, row.available, row.held, now))
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
