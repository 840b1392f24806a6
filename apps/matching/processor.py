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
release makes), persist.py (the batch's writes), private_events.py (its
orders and fills events), publisher.py (events to the channel layer after
commit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from apps.accounts.ledger import balances_apply_in_transaction
from apps.accounts.services import fee_user
from apps.markets.models import Pair, PairStatus
from apps.matching.adapter import (
    QueuedCommand,
    QueuedOrder,
    amend_command,
    cancel_command,
    engine_hold,
    engine_units,
    place_command,
)
from apps.matching.batch import Batch
from apps.matching.books import PairBook
from apps.matching.fencing import OwnershipLost, ownership_prove
from apps.matching.persist import batch_write
from apps.matching.publisher import EventPublisher
from apps.matching.settlement import release_change
from apps.orders import bus
from apps.orders.models import CommandKind, Order, OrderCommand, OrderStatus
from apps.orders.wire import order_event

log = logging.getLogger(__name__)


_COMMAND_COLUMNS = (
    "id",
    "kind",
    "pair_id",
    "order_id",
    "created_at",
    "cancel_reason",
    "amend_price",
    "amend_size",
    "hold_add",
)
_ORDER_COLUMNS = QueuedOrder._fields[1:]

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

    def fetch(self, limit: int, pair_ids: list[int]) -> list[QueuedCommand]:
        """The next ``limit`` unprocessed commands of ``pair_ids``, in id
        order, each with the columns of its order that the matcher reads.
        As plain tuples: model instances (select_related) cost more to build
        than the rest of applying a command."""
        rows = (
            OrderCommand.objects.filter(pair_id__in=pair_ids, processed_at__isnull=True)
            .order_by("id")
            .values_list(*_COMMAND_COLUMNS, *(f"order__{f}" for f in _ORDER_COLUMNS))
        )[:limit]
        split = len(_COMMAND_COLUMNS)
        return [
            QueuedCommand(*row[:split], QueuedOrder(row[3], *row[split:]))
            for row in rows
        ]

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

    def _reject_poison(self, command: QueuedCommand) -> None:
        """A command that fails on its own, again and again: take it out of
        the queue in a transaction of its own. A placement is rejected with
        its hold released; an amend's extra hold is released; a cancel or an
        amend is marked failed (the order stays as it was)."""
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
                now = timezone.now()
                order.status, order.reject_reason = OrderStatus.REJECTED, "system_error"
                order.done_at = order.updated_at = now
                Order.objects.filter(pk=order.pk).update(
                    status=order.status,
                    reject_reason=order.reject_reason,
                    done_at=now,
                    updated_at=now,
                )
                # The release (if any) with its balances event, and the
                # order's rejection on its orders channel.
                balances_apply_in_transaction(
                    changes=[release] if release is not None else [],
                    events=[order_event(order, pair)],
                    now=now,
                    assets={a.pk: a for a in (pair.base, pair.quote)},
                )
            if command.kind == CommandKind.AMEND:
                pair = self.books[command.pair_id].pair
                unused = engine_units(pair, order.side, command.hold_add)
                release = release_change(
                    pair, order.pk, order.user_id, order.side, unused
                )
                if release is not None:
                    balances_apply_in_transaction(
                        changes=[release],
                        assets={a.pk: a for a in (pair.base, pair.quote)},
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

    def _apply(self, command: QueuedCommand, status: str, batch: Batch) -> str:
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
        elif command.kind == CommandKind.AMEND:
            events = book.engine.process(amend_command(command, book.pair))
            return batch.record(book, events, side=order.side)
        else:
            events = book.engine.process(cancel_command(command))
        return batch.record(book, events)

    def _persist(self, batch: Batch) -> None:
        # First: the proof that this matcher still owns every pair it writes,
        # holding their epoch rows until commit (apps/matching/fencing.py).
        epochs = self.epochs()
        ownership_prove(epochs)
        now = timezone.now()
        batch_write(batch, now, {pk: book.pair for pk, book in self.books.items()})

    def _after_commit(self, batch: Batch, commands: Iterable[QueuedCommand]) -> None:
        try:
            bus.publish_results({c.order_id for c in commands})
        except Exception:  # noqa: BLE001 - waiters fall back to their deadline
            log.exception("could not publish order results")
        if batch.events:
            self.publisher.submit(batch.events)
