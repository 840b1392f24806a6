"""The single-row path: one change as one ``UPDATE ... RETURNING``, alone or
as the hold CTEs of the order path's one statement (see the package)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection

from apps.accounts.journal import DOC, NewEvent, journal_ctes, journal_params
from apps.accounts.ledger.changes import (
    LEDGER_COLUMNS,
    BalanceChange,
    ledger_row,
    overdraft_refused,
)
from apps.accounts.ledger.events import balance_payload_doc, balance_payload_sql
from apps.accounts.models import AccountChannel, Balance, LedgerEntry
from apps.core.api.formats import unix_ms
from apps.core.bulk import cast_param, db_datetime, insert_returning_id
from apps.core.money import MAX_UNITS
from apps.markets.models import Asset


@functools.cache
def _balance_update_sql(
    guard_available: bool, guard_held: bool, guard_funds: bool = False
) -> str:
    """UPDATE ... RETURNING id, available, held of one (user, asset, wallet)
    row; it updates and returns nothing when the row does not exist or a
    guard fails. A guard keeps a growing column within BIGINT, in NUMERIC:
    SQLite would silently turn an overflowing sum into a float. A column that
    does not grow needs none. ``guard_funds`` (a hold's) also updates nothing
    when available would go negative, so that the caller's transaction
    survives a refusal (the CHECK constraint stays the backstop). Fixed
    texts, so psycopg prepares them."""
    guarded = (("available", guard_available), ("held", guard_held))
    guards = "".join(
        f"AND CAST({column} AS NUMERIC) + %s <= %s " for column, on in guarded if on
    )
    if guard_funds:
        guards += "AND available + %s >= 0 "
    return (
        f"UPDATE {connection.ops.quote_name(Balance._meta.db_table)} "
        "SET available = available + %s, held = held + %s, updated_at = %s "
        "WHERE user_id = %s AND asset_id = %s AND wallet = %s "
        f"{guards}RETURNING id, available, held"
    )


def _balance_update(
    change: BalanceChange, now: Any, *, guard_funds: bool = False
) -> tuple[str, list[Any]]:
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
    if guard_funds:
        params.append(change.d_available)
    return _balance_update_sql(grows_available, grows_held, guard_funds), params


def apply_single(change: BalanceChange, now: datetime) -> Balance | None:
    """One change to an existing row: the UPDATE, then its entry's INSERT.
    Half the round trips of SELECT FOR UPDATE + UPDATE. Returns None, having
    written nothing, when the UPDATE matched no row (the batch path then
    creates the row or refuses the overflow)."""
    sql, params = _balance_update(change, db_datetime(now))
    # No savepoint of its own: the caller's transaction rolls back on error.
    with overdraft_refused(change), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    entry = ledger_row(change, row[1], row[2], now)
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
    """The bodies of four CTEs of a caller's statement; see ``hold_ctes``."""

    balance: str
    ledger: str
    streams: str
    events: str


class HoldParams(NamedTuple):
    """The parameters of each of the ``HoldCtes``."""

    balance: list[Any]
    ledger: list[Any]
    streams: list[Any]
    events: list[Any]


# The entry's columns that the statement fills from its CTEs.
_FROM_STATEMENT = frozenset({"available_after", "held_after", "order_id"})


@functools.cache
def hold_ctes(*, balance: str, order: str, streams: str) -> HoldCtes:
    """A hold for an order, as four CTEs of the caller's one statement that
    also inserts the order (PostgreSQL), the caller naming the CTEs:

        WITH {balance} AS (<.balance>),
             {order} AS (INSERT INTO <order table> ... FROM {balance} RETURNING id),
             <any name> AS (<.ledger>),
             {streams} AS (<.streams>),
             <any name> AS (<.events>), ...

    ``.balance`` is the single-row UPDATE. It is empty when the row is missing,
    the funds are short or the result would pass BIGINT: the order's INSERT
    selects FROM it so that nothing is written then (the caller's
    transaction stays usable), and the caller takes the general path for
    the exact answer. Should a negative result still reach the row (it
    cannot: the guard), the CHECK constraint raises; run the statement inside
    ``overdraft_refused``. ``.ledger`` inserts the hold's entry, reading the
    balance after the change from ``{balance}`` and the order's id from
    ``{order}``. ``.streams`` and ``.events`` journal the hold's ``balances``
    event (its payload built in SQL from ``{balance}``) and the caller's one
    event of the same user (the order's), after the balance row's lock, as
    ``apps.accounts.journal`` orders locks. The texts are fixed;
    ``hold_params`` gives the parameters."""
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
    journal = journal_ctes(
        source=balance,
        streams=streams,
        payloads=(
            (AccountChannel.BALANCES.value, balance_payload_sql(balance, DOC)),
            # The caller's event (the order's), its payload as written.
            (AccountChannel.ORDERS.value, f"{DOC} -> 'event'"),
        ),
    )
    return HoldCtes(
        _balance_update_sql(False, True, True), ledger, journal.streams, journal.events
    )


def hold_params(
    change: BalanceChange, now: datetime, *, asset: Asset, event: NewEvent
) -> HoldParams:
    """The parameters of the ``hold_ctes`` for ``change``: a hold (a positive
    amount from available to held) of ``asset`` for the order of the
    statement, whose id the statement supplies, and ``event``, the caller's
    event of the same user (the order's) to journal with the hold's."""
    if not (change.d_held > 0 and change.d_available == -change.d_held):
        raise ValueError(f"not a hold: {change}")
    if change.order_id is not None:
        raise ValueError("the statement supplies the order id")
    if asset.pk != change.asset_id or event.user_id != change.user_id:
        raise ValueError("the asset and the event must be the hold's")
    if event.channel != AccountChannel.ORDERS:
        raise ValueError("the hold's statement journals an orders event")
    entry = ledger_row(change, None, None, now)
    doc = balance_payload_doc(
        code=asset.code,
        scale=asset.scale,
        wallet=change.wallet,
        reason=str(change.reason),
        ts=unix_ms(now),
    )
    streams, events = journal_params(
        change.user_id, now, {**doc, "event": event.payload}
    )
    return HoldParams(
        _balance_update(change, now, guard_funds=True)[1],
        [
            value
            for column, value in zip(LEDGER_COLUMNS, entry, strict=True)
            if column not in _FROM_STATEMENT
        ],
        streams,
        events,
    )
