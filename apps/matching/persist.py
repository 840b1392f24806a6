"""Persistence of a batch: the writes of its ONE transaction, after the
ownership proof (apps/matching/processor.py ``BatchProcessor._persist``).

Trades and order updates have a PostgreSQL variant (COPY with ids drawn from
the sequence; one UPDATE over unnest arrays) beside the general one that
SQLite takes (bulk_create; UPDATE ... FROM VALUES); both write the same rows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from apps.accounts.ledger import BalanceChange, balances_apply_in_transaction
from apps.core.api.formats import unix_ms
from apps.core.bulk import bulk_insert, db_datetime
from apps.core.jsontext import json_text
from apps.markets.models import MarketEvent, Pair
from apps.matching import engine as eng
from apps.matching.batch import Batch, OrderDelta
from apps.matching.books import PairBook
from apps.matching.private_events import OrderRow, account_events
from apps.orders.models import Order, OrderCommand, Trade


def batch_write(batch: Batch, now: datetime, pairs: dict[int, Pair]) -> None:
    """Write everything the batch gathered, stamped ``now``: trades, order
    fills and states, balance changes (each trade's with its id) with the
    private events of all three (``account_events``), market events, and the
    commands marked processed with their pair's epoch. Call inside the
    transaction, after ``ownership_prove``; ``pairs`` are the books' pairs
    (assets loaded), by id."""
    trade_ids = _insert_trades(batch.trades, now)
    _amend_orders(batch.orders)
    orders = _update_orders(batch.orders, now)
    changes = [
        change if index < 0 else _with_trade(change, trade_ids[index])
        for change, index in batch.changes
    ]
    balances_apply_in_transaction(
        changes=changes,
        events=account_events(batch, orders, pairs),
        now=now,
        assets={a.pk: a for pair in pairs.values() for a in (pair.base, pair.quote)},
    )
    _stamp_trade_events(batch, now)
    bulk_insert(
        MarketEvent,
        ("pair_id", "seq", "type", "payload", "created_at"),
        [(e.pair_id, e.seq, e.type, json_text(e.payload), now) for e in batch.events],
    )
    by_result: dict[tuple[str, int], list[int]] = {}
    for command_id, result_epoch in batch.command_results.items():
        by_result.setdefault(result_epoch, []).append(command_id)
    for (result, epoch), ids in by_result.items():
        marked = _mark_processed(ids, now, result, epoch)
        if marked != len(ids):
            # Someone else processed these: this matcher lost its pair.
            raise eng.InvariantError("commands already processed by another matcher")


def _mark_processed(ids: list[int], now: datetime, result: str, epoch: int) -> int:
    """Stamp the still unprocessed commands of ``ids``; how many it stamped.
    On PostgreSQL one array parameter (``= ANY``): a fixed text psycopg
    prepares, where ``pk__in`` spelt out a placeholder per command, which
    PostgreSQL parsed and planned anew each batch (~90 ms for 5,000)."""
    if connection.vendor != "postgresql":
        return OrderCommand.objects.filter(
            pk__in=ids, processed_at__isnull=True
        ).update(processed_at=now, result=result, epoch=epoch)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(OrderCommand._meta.db_table)} "
            "SET processed_at = %s, result = %s, epoch = %s "
            "WHERE id = ANY(%s::bigint[]) AND processed_at IS NULL",
            [db_datetime(now), result, epoch, ids],
        )
        return cursor.rowcount


def _amend_orders(orders: dict[int, OrderDelta]) -> None:
    """The new price, size and hold of the batch's amended orders, before
    ``_update_orders`` adds their fills and returns their rows. One UPDATE
    each: amends are rare next to placements and fills."""
    for order_id, delta in orders.items():
        if delta.amend is not None:
            price, size, hold = delta.amend
            Order.objects.filter(pk=order_id).update(
                price=price, size=size, hold_amount=hold
            )


def _stamp_trade_events(batch: Batch, now: Any) -> None:
    """A trade event's ``ts`` becomes its Trade row's ``created_at`` (``now``)
    in Unix ms. The engine stamps a trade with its taker command's time,
    which may be earlier; REST (``/v1/trades``, ``/v1/candles``) reads the
    row's time, and the streams must name the same instant: the ``candles``
    channel folds trade events into the very buckets REST builds from rows.
    The payload is the one object journaled and published after commit."""
    ts = unix_ms(now)
    for event in batch.events:
        if event.type == "trade":
            event.payload["ts"] = ts


_TRADE_COLUMNS = (
    "id",
    "pair_id",
    "seq",
    "maker_order_id",
    "taker_order_id",
    "maker_user_id",
    "taker_user_id",
    "price",
    "size",
    "quote",
    "taker_side",
    "maker_fee",
    "taker_fee",
    "created_at",
)


def _insert_trades(
    trades: list[tuple[PairBook, eng.Trade, int]], now: Any
) -> list[int]:
    """Insert the batch's trades; returns their ids in order. On PostgreSQL
    the ids are drawn from the table's sequence first, so the rows can go in
    by COPY (which returns nothing); SQLite goes through bulk_create."""
    if not trades:
        return []
    if connection.vendor != "postgresql":
        made = Trade.objects.bulk_create(
            [
                Trade(
                    pair_id=book.pair.pk,
                    seq=seq,
                    maker_order_id=t.maker_order_id,
                    taker_order_id=t.taker_order_id,
                    maker_user_id=t.maker_account_id,
                    taker_user_id=t.taker_account_id,
                    price=t.price,
                    size=t.size,
                    quote=t.quote,
                    taker_side=str(t.taker_side),
                    maker_fee=t.maker_fee,
                    taker_fee=t.taker_fee,
                    created_at=now,
                )
                for book, t, seq in trades
            ]
        )
        return [trade.pk for trade in made]
    with connection.cursor() as cursor:
        # The sequence's name resolved once, not per row: pg_get_serial_sequence
        # in the select list ran for each id (17 ms for 5,000, against 6).
        cursor.execute(
            "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass"
            " AS s) SELECT nextval(q.s) FROM q, generate_series(1, %s)",
            [Trade._meta.db_table, len(trades)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    bulk_insert(
        Trade,
        _TRADE_COLUMNS,
        [
            (
                trade_id,
                book.pair.pk,
                seq,
                t.maker_order_id,
                t.taker_order_id,
                t.maker_account_id,
                t.taker_account_id,
                t.price,
                t.size,
                t.quote,
                str(t.taker_side),
                t.maker_fee,
                t.taker_fee,
                now,
            )
            for trade_id, (book, t, seq) in zip(ids, trades, strict=True)
        ],
    )
    return ids


def _with_trade(change: BalanceChange, trade_id: int) -> BalanceChange:
    return BalanceChange(
        change.user_id,
        change.asset_id,
        change.wallet,
        change.d_available,
        change.d_held,
        change.reason,
        order_id=change.order_id,
        trade_id=trade_id,
        ref=change.ref,
    )


_UPDATE_CHUNK = 500


def _delta_row(order_id: int, d: OrderDelta) -> tuple[Any, ...]:
    """An order's batch delta in the column order both update paths use."""
    return (
        order_id,
        d.filled_size,
        d.filled_quote,
        d.maker_quote,
        d.fee,
        d.status,
        d.reason,
        d.priority,
        int(d.triggered),
        int(d.done),
    )


def _update_orders(orders: dict[int, OrderDelta], now: Any) -> dict[int, OrderRow]:
    """One UPDATE ... FROM (VALUES ...) per chunk: adds fill deltas to each
    touched order and sets its status. Hand-written because bulk_update cannot
    add to the current value (makers' fills accumulate across batches) and
    works on both PostgreSQL and SQLite (UPDATE FROM, VALUES columns columnN).
    Returns the updated rows, by id, from the UPDATE's RETURNING (on SQLite
    converted from the text Django stores, ``_sqlite_order_row``)."""
    if connection.vendor == "postgresql":
        return _update_orders_pg(orders, now)
    updated: dict[int, OrderRow] = {}
    table = Order._meta.db_table
    items = list(orders.items())
    row_sql = (
        "(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), "
        "CAST(%s AS BIGINT), CAST(%s AS VARCHAR(16)), CAST(%s AS VARCHAR(32)), "
        "CAST(%s AS BIGINT), CAST(%s AS INTEGER), CAST(%s AS INTEGER))"
    )
    for start in range(0, len(items), _UPDATE_CHUNK):
        chunk = items[start : start + _UPDATE_CHUNK]
        params: list[Any] = []
        for order_id, d in chunk:
            params += _delta_row(order_id, d)
        sql = (
            f"UPDATE {table} SET "
            f"filled_size = {table}.filled_size + v.column2, "
            f"filled_quote = {table}.filled_quote + v.column3, "
            f"maker_quote = {table}.maker_quote + v.column4, "
            f"fee = {table}.fee + v.column5, "
            f"status = v.column6, reject_reason = v.column7, "
            f"priority = COALESCE(v.column8, {table}.priority), "
            f"triggered_at = CASE WHEN v.column9 = 1 THEN %s ELSE {table}.triggered_at END, "
            f"done_at = CASE WHEN v.column10 = 1 THEN %s ELSE {table}.done_at END, "
            f"updated_at = %s "
            f"FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS v "
            f"WHERE {table}.id = v.column1 "
            # The IN list lets the planner fetch the rows by primary key; joined
            # with VALUES alone it hash-joins a scan of the whole table.
            f"AND {table}.id IN ({', '.join(['%s'] * len(chunk))}) "
            f"RETURNING {', '.join(OrderRow._fields)}"
        )
        with connection.cursor() as cursor:
            at = db_datetime(now)
            cursor.execute(
                sql, [at, at, at, *params, *(order_id for order_id, _ in chunk)]
            )
            for row in cursor.fetchall():
                updated[row[0]] = _sqlite_order_row(row)
    return updated


_STAMPS = frozenset(
    i for i, f in enumerate(OrderRow._fields) if f.endswith("_at")
)  # triggered_at, created_at, updated_at, done_at
_UUID, _POST_ONLY = OrderRow._fields.index("uuid"), OrderRow._fields.index("post_only")


def _sqlite_order_row(row: tuple[Any, ...]) -> OrderRow:
    """An order row as SQLite returns it raw: Django's stored forms (a UUID as
    32 hex digits, naive-UTC timestamps, text or already parsed by the
    sqlite3 module's declared-type converters, booleans as integers) become
    values. By hand because the ORM's converters, reading
    the rows back, cost more than the batch's whole UPDATE."""
    values = list(row)
    for i in _STAMPS:
        value = values[i]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is not None:  # naive UTC, parsed here or by sqlite3's converter
            values[i] = value.replace(tzinfo=UTC)
    if not isinstance(values[_UUID], uuid.UUID):
        values[_UUID] = uuid.UUID(hex=values[_UUID])
    values[_POST_ONLY] = bool(values[_POST_ONLY])
    return OrderRow(*values)


def _update_orders_pg(orders: dict[int, OrderDelta], now: Any) -> dict[int, OrderRow]:
    """PostgreSQL: one UPDATE joined by primary key to the deltas passed as
    arrays (unnest). The query text is fixed whatever the batch size, so
    psycopg prepares it; a VALUES list grows with the batch and is re-parsed
    every time, and joined to VALUES the planner hash-joined a scan of the
    whole orders table."""
    if not orders:
        return {}  # e.g. a batch of cancels of orders that had already filled
    table = Order._meta.db_table
    rows = [_delta_row(order_id, d) for order_id, d in orders.items()]
    columns = list(zip(*rows, strict=True))
    with connection.cursor() as cursor:
        # Binary results: psycopg then reads the returned timestamps without
        # parsing text, a few microseconds each, four per order.
        cursor.cursor.execute(
            f"UPDATE {table} o SET filled_size = o.filled_size + d.filled_size, "
            "filled_quote = o.filled_quote + d.filled_quote, "
            "maker_quote = o.maker_quote + d.maker_quote, fee = o.fee + d.fee, "
            "status = d.status, reject_reason = d.reason, "
            "priority = COALESCE(d.priority, o.priority), "
            "triggered_at = CASE WHEN d.triggered = 1 THEN %s ELSE o.triggered_at END, "
            "done_at = CASE WHEN d.done = 1 THEN %s ELSE o.done_at END, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::varchar[], %s::varchar[], %s::bigint[], %s::int[], "
            "%s::int[]) AS d(id, filled_size, filled_quote, maker_quote, fee, status, "
            "reason, priority, triggered, done) WHERE o.id = d.id "
            f"RETURNING {', '.join(f'o.{f}' for f in OrderRow._fields)}",
            [now, now, now, *(list(c) for c in columns)],
            binary=True,
        )
        return {row[0]: OrderRow(*row) for row in cursor.fetchall()}
