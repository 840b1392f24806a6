"""The private events journal: the only SQL that writes ``AccountEvent`` and
``AccountStream`` (docs/architecture.md, "Private events journal").

Every event is appended in the transaction of the change it reports, with the
next seq of its (user, channel) stream, so a committed change always has its
event and a rolled-back one leaves neither an event nor a hole in the seqs.
A seq comes from the stream's counter row (``AccountStream.last_seq``): one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` advances every stream a
transaction touches by its number of events, then the events go in with one
COPY (PostgreSQL) or one executemany (SQLite).

Lock order (PostgreSQL; SQLite has one writer at a time): a transaction
takes ALL its balance row locks (the ledger) before ANY counter lock, and its
counter locks in one statement, ordered by (channel, user_id). Two
transactions therefore never wait on each other in a cycle: a counter lock
is never held while waiting for a balance row, and counters are taken in one
global order. The ledger calls ``account_events_append_in_transaction``
after its balance writes, with the caller's other events (orders, fills) in
the same call, so all of a transaction's counters are taken once, together.

System users (``Account.is_system``, e.g. the fee account) are not journaled:
the counter statement skips them, so matchers of unrelated pairs, which all
credit the fee account, never queue on one counter row.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction

from apps.accounts.models import Account, AccountEvent, AccountStream
from apps.core.bulk import bulk_insert, db_datetime
from apps.core.jsontext import json_text

_EVENT_COLUMNS = ("user_id", "channel", "seq", "payload", "created_at")
_SQLITE_CHUNK = 5_000  # 3 parameters a stream: under SQLite's 32,766


class NewEvent(NamedTuple):
    """An event to append: its stream and its payload (a JSON object)."""

    user_id: int
    channel: str
    payload: dict[str, Any]


class AccountEventRow(NamedTuple):
    """A journaled event, as appended and as the selectors read it."""

    user_id: int
    channel: str
    seq: int
    payload: dict[str, Any]
    created_at: datetime


def account_events_append_in_transaction(
    *, events: Sequence[NewEvent], now: datetime
) -> list[AccountEventRow]:
    """Append ``events`` (in their order within each stream), stamped ``now``;
    returns those written (a system user's are skipped).

    Call inside the transaction of the change, after its balance writes (see
    the lock order above). Locks: the counter row of each (user, channel)
    touched, in (channel, user_id) order, in one statement."""
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("needs an open transaction")
    if not events:
        return []
    counts: dict[tuple[str, int], int] = {}
    for event in events:
        key = (event.channel, event.user_id)
        counts[key] = counts.get(key, 0) + 1
    streams = sorted(counts)
    last = _advance(streams, [counts[key] for key in streams])
    # The seq before each stream's first new event.
    before = {key: last_seq - counts[key] for key, last_seq in last.items()}
    rows = []
    for event in events:
        key = (event.channel, event.user_id)
        seq = before.get(key)
        if seq is None:
            continue  # a system user's stream
        before[key] = seq = seq + 1
        rows.append(
            AccountEventRow(event.user_id, event.channel, seq, event.payload, now)
        )
    bulk_insert(
        AccountEvent,
        _EVENT_COLUMNS,
        [(r.user_id, r.channel, r.seq, payload_json(r.payload), now) for r in rows],
    )
    return rows


def payload_json(payload: dict[str, Any]) -> str:
    """The stored text of a payload (compact: it is most of a row's bytes)."""
    return json_text(payload)


def _advance(
    streams: list[tuple[str, int]], counts: list[int]
) -> dict[tuple[str, int], int]:
    """Add each count to its stream's counter (creating it at 0 first), in
    the given (channel, user_id) order; returns the new last seqs of the
    streams of users that are not system users."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _advance_pg_sql(),
                [[u for _, u in streams], [c for c, _ in streams], counts],
            )
            return {(c, u): last for u, c, last in cursor.fetchall()}
    found: dict[tuple[str, int], int] = {}
    for start in range(0, len(streams), _SQLITE_CHUNK):
        chunk = streams[start : start + _SQLITE_CHUNK]
        params: list[Any] = []
        for (channel, user_id), n in zip(chunk, counts[start:], strict=False):
            params += [user_id, channel, n]
        with connection.cursor() as cursor:
            cursor.execute(_advance_sqlite_sql(len(chunk)), params)
            found.update({(c, u): last for u, c, last in cursor.fetchall()})
    return found


def _not_system(user_id: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM {Account._meta.db_table} a "
        f"WHERE a.user_id = {user_id} AND a.is_system)"
    )


@functools.cache
def _advance_pg_sql() -> str:
    """A fixed text (the streams as arrays), so psycopg prepares it. Rows are
    upserted in the order of the arrays (WITH ORDINALITY ... ORDER BY), which
    is the order their counter rows are locked in."""
    table = AccountStream._meta.db_table
    return (
        f"INSERT INTO {table} (user_id, channel, last_seq) "
        "SELECT v.user_id, v.channel, v.n FROM unnest(%s::bigint[], "
        "%s::varchar[], %s::bigint[]) WITH ORDINALITY AS v(user_id, channel, n, i) "
        f"WHERE {_not_system('v.user_id')} ORDER BY v.i "
        "ON CONFLICT (user_id, channel) DO UPDATE "
        f"SET last_seq = {table}.last_seq + EXCLUDED.last_seq "
        "RETURNING user_id, channel, last_seq"
    )


@functools.cache
def _advance_sqlite_sql(rows: int) -> str:
    # The WHERE clause also resolves SQLite's parsing ambiguity between an
    # upsert's ON CONFLICT and a join's ON.
    table = AccountStream._meta.db_table
    values = ", ".join(["(CAST(%s AS INTEGER), %s, CAST(%s AS INTEGER))"] * rows)
    return (
        f"INSERT INTO {table} (user_id, channel, last_seq) "
        f"SELECT v.column1, v.column2, v.column3 FROM (VALUES {values}) AS v "
        f"WHERE {_not_system('v.column1')} "
        "ON CONFLICT (user_id, channel) DO UPDATE "
        "SET last_seq = last_seq + excluded.last_seq "
        "RETURNING user_id, channel, last_seq"
    )


class JournalCtes(NamedTuple):
    """Bodies of two CTEs of a caller's one PostgreSQL statement; see
    ``journal_ctes``."""

    streams: str
    events: str


# The alias of the one JSON document that carries the events' values into
# ``journal_ctes`` (its payload expressions read it as ``doc.value``).
DOC = "doc.value"


@functools.cache
def journal_ctes(
    *, source: str, streams: str, payloads: tuple[tuple[str, str], ...]
) -> JournalCtes:
    """Events of ONE user, one per channel, as CTEs of a caller's statement
    (PostgreSQL):

        WITH {source} AS (...), {streams} AS (<.streams>), <name> AS (<.events>)

    ``.streams`` advances the user's counter of each channel by one, once
    per row of ``{source}`` (the caller's CTE that must write first: its
    row locks come before the counters'), skipping a system user, in channel
    order (for one user, the global (channel, user_id) order). ``.events``
    inserts one event per (channel, payload expression) of ``payloads``; an
    expression may read ``{source}`` and the document ``DOC`` (JSON).

    Two parameters in all, the user's id and the document (``journal_params``):
    psycopg caches its parsing of a statement only up to 50 parameters, and
    re-parsing the order path's statement cost ~0.4 ms a call. The channels
    are literals of ``AccountChannel``. Fixed texts."""
    q = connection.ops.quote_name
    channels = ", ".join(f"('{channel}')" for channel, _ in sorted(payloads))
    stream_table = q(AccountStream._meta.db_table)
    cases = " ".join(f"WHEN '{channel}' THEN {expr}" for channel, expr in payloads)
    return JournalCtes(
        f"INSERT INTO {stream_table} (user_id, channel, last_seq) "
        f"SELECT u.id, v.channel, 1 FROM {source}, (SELECT %s::bigint AS id) u, "
        f"(VALUES {channels}) AS v(channel) WHERE {_not_system('u.id')} "
        "ORDER BY v.channel ON CONFLICT (user_id, channel) DO UPDATE "
        f"SET last_seq = {stream_table}.last_seq + 1 "
        "RETURNING user_id, channel, last_seq",
        f"INSERT INTO {q(AccountEvent._meta.db_table)} "
        f"({', '.join(q(c) for c in _EVENT_COLUMNS)}) "
        f"SELECT {streams}.user_id, {streams}.channel, {streams}.last_seq, "
        f"CASE {streams}.channel {cases} END, ({DOC} ->> 'at')::timestamptz "
        f"FROM {streams}, {source}, (SELECT %s::json AS value) doc",
    )


def journal_params(
    user_id: int, now: datetime, doc: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    """The parameters of ``journal_ctes`` (streams', events'): the user's
    id, and ``doc`` as the document with the events' stamp added."""
    return [user_id], [payload_json({**doc, "at": now.isoformat()})]


def events_delete_before(*, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` events stamped before ``cutoff`` (never a
    counter: seqs continue where they were); returns how many. One statement
    by the ``created_at`` index, so a caller can keep each transaction short."""
    table = AccountEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE (user_id, channel, seq) IN "
            f"(SELECT user_id, channel, seq FROM {table} WHERE created_at < %s "
            "LIMIT %s)",
            [db_datetime(cutoff), limit],
        )
        return int(cursor.rowcount)
