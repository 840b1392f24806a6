"""The matcher's loop: takes a batch of queued commands, applies them to the
in-memory books and persists the outcome of the whole batch in ONE
transaction, then publishes it.

Per batch: order states, trades, both sides' settlement, fees and hold releases
(through the money service, ledger included), market events with the pair's
gap-free sequence, and the commands marked processed. If the transaction fails
the in-memory books are rebuilt from the database, so memory never runs ahead
of what was committed.

The rooms it calls: books.py (the books and their rebuild), batch.py (folding
events into a batch), settlement.py (which balance changes a trade or a
release makes), publisher.py (events to the channel layer after commit).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from apps.accounts.services import (
    BalanceChange,
    balances_apply_in_transaction,
    fee_user,
)
from apps.core.api.formats import unix_ms
from apps.core.bulk import bulk_insert, db_datetime
from apps.markets.models import MarketEvent, Pair, PairStatus
from apps.matching import bus
from apps.matching import engine as eng
from apps.matching.adapter import engine_hold, place_command
from apps.matching.batch import Batch, OrderDelta
from apps.matching.books import PairBook
from apps.matching.fencing import OwnershipLost, ownership_prove
from apps.matching.publisher import EventPublisher
from apps.matching.settlement import release_change
from apps.orders.models import CommandKind, Order, OrderCommand, OrderStatus, Trade

log = logging.getLogger(__name__)

BATCH_CAP = 1_000_000  # no cap of its own: the caller's limit applies
POISON_AFTER = 3  # failures of a one-command batch before it is rejected


class BatchProcessor:
    """Applies one batch of commands for the books it owns."""

    def __init__(self, books: dict[int, PairBook]) -> None:
        self.books = books
        self.fee_user_id = fee_user().pk
        self.publisher = EventPublisher()
        self.stale = False  # memory may be ahead of the database: rebuild first
        self.failures = 0
        self.batch_cap = BATCH_CAP

    def fetch(self, limit: int, pair_ids: list[int]) -> list[OrderCommand]:
        return list(
            OrderCommand.objects.filter(pair_id__in=pair_ids, processed_at__isnull=True)
            .select_related("order")
            .order_by("id")[:limit]
        )

    def run_once(self, limit: int = 500) -> int:
        """Process up to ``limit`` queued commands; returns how many.

        Memory never runs ahead of the database: if anything fails between
        taking the commands and committing their outcome, every book is
        marked stale and rebuilt from the database before the next batch.
        A batch that keeps failing is split, down to single commands; a single
        command that still fails is rejected on its own (poison pill), so one
        bad command cannot stop a matcher's pairs."""
        started = time.perf_counter()
        if self.stale:
            self.rebuild_all()
        pairs = {
            p["pk"]: p
            for p in Pair.objects.filter(pk__in=list(self.books)).values(
                "pk", "status", "price_band_bps"
            )
        }
        for pair_id, row in pairs.items():
            if row["price_band_bps"] != self.books[pair_id].engine.cfg.price_band_bps:
                self.books[pair_id].rebuild()  # the band changed in the admin
        # A halted pair's queue waits, frozen like its book, until it resumes.
        open_pairs = [
            pk for pk, row in pairs.items() if row["status"] != PairStatus.HALTED
        ]
        commands = self.fetch(min(limit, self.batch_cap), open_pairs)
        if not commands:
            return 0
        batch = Batch(self.fee_user_id)
        try:
            for command in commands:
                result = self._apply(command, pairs[command.pair_id]["status"], batch)
                epoch = self.books[command.pair_id].epoch
                batch.command_results[command.pk] = (result, epoch)
            with transaction.atomic():
                self._persist(batch)
        except OwnershipLost:
            self.stale = True
            raise  # another matcher owns a pair now: stop writing at once
        except Exception as exc:
            self.stale = True
            log.exception(
                "matcher batch of %d failed; books will be rebuilt", len(commands)
            )
            if isinstance(exc, (OperationalError, InterfaceError)):
                raise  # the database, not the command: retry as it is
            self.failures += 1
            if len(commands) == 1 and self.failures >= POISON_AFTER:
                self._reject_poison(commands[0])
            self.batch_cap = max(1, len(commands) // 2)
            raise
        self.failures, self.batch_cap = 0, BATCH_CAP
        self._after_commit(batch, commands)
        log.debug(
            "batch of %d commands in %.1f ms",
            len(commands),
            (time.perf_counter() - started) * 1000,
        )
        return len(commands)

    def epochs(self) -> dict[int, int]:
        return {pk: book.epoch for pk, book in self.books.items()}

    def rebuild_all(self) -> None:
        for book in self.books.values():
            book.rebuild()
        self.stale = False

    def _reject_poison(self, command: OrderCommand) -> None:
        """A command that fails on its own, again and again: take it out of
        the queue in a transaction of its own. A placement is rejected with
        its hold released; a cancel is marked failed (the order stays)."""
        log.error(
            "rejecting command %s (%s of order %s) that keeps failing the matcher",
            command.pk,
            command.kind,
            command.order_id,
        )
        with transaction.atomic():
            ownership_prove(self.epochs())
            order = Order.objects.select_for_update().get(pk=command.order_id)
            if (
                command.kind == CommandKind.PLACE
                and order.status == OrderStatus.PENDING
            ):
                pair = self.books[command.pair_id].pair
                release = release_change(
                    pair, order.pk, order.user_id, order.side, engine_hold(order, pair)
                )
                if release is not None:
                    balances_apply_in_transaction(changes=[release])
                Order.objects.filter(pk=order.pk).update(
                    status=OrderStatus.REJECTED,
                    reject_reason="system_error",
                    done_at=timezone.now(),
                    updated_at=timezone.now(),
                )
            OrderCommand.objects.filter(
                pk=command.pk, processed_at__isnull=True
            ).update(
                processed_at=timezone.now(),
                result="failed",
                epoch=self.books[command.pair_id].epoch,
            )
        bus.publish_results([command.order_id])
        self.failures = 0

    def _apply(self, command: OrderCommand, status: str, batch: Batch) -> str:
        """Apply one command to its book and fold the outcome into the batch;
        returns the command's result."""
        book = self.books[command.pair_id]
        order = command.order
        if command.kind == CommandKind.PLACE:
            if order.status != OrderStatus.PENDING:
                return "duplicate"
            if status != PairStatus.TRADING:
                batch.reject_unplaced(book, order, f"market_{status}")
                return "rejected"
            book.sides[order.pk] = order.side
            events = book.engine.process(place_command(order, book.pair))
        else:
            events = book.engine.process(
                eng.CancelOrder(order.pk, order.user_id, unix_ms(command.created_at))
            )
        return batch.record(book, events)

    def _persist(self, batch: Batch) -> None:
        # First: the proof that this matcher still owns every pair it writes,
        # holding their epoch rows until commit (apps/matching/fencing.py).
        epochs = self.epochs()
        ownership_prove(epochs)
        now = timezone.now()
        trade_ids = _insert_trades(batch.trades, now)
        _update_orders(batch.orders, now)
        changes = [
            change if index < 0 else _with_trade(change, trade_ids[index])
            for change, index in batch.changes
        ]
        balances_apply_in_transaction(changes=changes)
        bulk_insert(
            MarketEvent,
            ("pair_id", "seq", "type", "payload", "created_at"),
            [
                (e.pair_id, e.seq, e.type, json.dumps(e.payload), now)
                for e in batch.events
            ],
        )
        by_result: dict[tuple[str, int], list[int]] = {}
        for command_id, result_epoch in batch.command_results.items():
            by_result.setdefault(result_epoch, []).append(command_id)
        for (result, epoch), ids in by_result.items():
            marked = OrderCommand.objects.filter(
                pk__in=ids, processed_at__isnull=True
            ).update(processed_at=now, result=result, epoch=epoch)
            if marked != len(ids):
                # Someone else processed these: this matcher lost its pair.
                raise eng.InvariantError(
                    "commands already processed by another matcher"
                )

    def _after_commit(self, batch: Batch, commands: Iterable[OrderCommand]) -> None:
        try:
            bus.publish_results({c.order_id for c in commands})
        except Exception:  # noqa: BLE001 - waiters fall back to their deadline
            log.exception("could not publish order results")
        if batch.events:
            self.publisher.submit(batch.events)


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
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
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


def _update_orders(orders: dict[int, OrderDelta], now: Any) -> None:
    """One UPDATE ... FROM (VALUES ...) per chunk: adds fill deltas to each
    touched order and sets its status. Hand-written because bulk_update cannot
    add to the current value (makers' fills accumulate across batches) and
    works on both PostgreSQL and SQLite (UPDATE FROM, VALUES columns columnN)."""
    if connection.vendor == "postgresql":
        _update_orders_pg(orders, now)
        return
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
            f"AND {table}.id IN ({', '.join(['%s'] * len(chunk))})"
        )
        with connection.cursor() as cursor:
            at = db_datetime(now)
            cursor.execute(
                sql, [at, at, at, *params, *(order_id for order_id, _ in chunk)]
            )


def _update_orders_pg(orders: dict[int, OrderDelta], now: Any) -> None:
    """PostgreSQL: one UPDATE joined by primary key to the deltas passed as
    arrays (unnest). The query text is fixed whatever the batch size, so
    psycopg prepares it; a VALUES list grows with the batch and is re-parsed
    every time, and joined to VALUES the planner hash-joined a scan of the
    whole orders table."""
    if not orders:
        return  # e.g. a batch of cancels of orders that had already filled
    table = Order._meta.db_table
    rows = [_delta_row(order_id, d) for order_id, d in orders.items()]
    columns = list(zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
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
            "reason, priority, triggered, done) WHERE o.id = d.id",
            [now, now, now, *(list(c) for c in columns)],
        )
