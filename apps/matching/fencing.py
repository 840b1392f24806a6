"""Fencing: a matcher writes a pair only while it owns it, and proves it.

The pair lock (apps/matching/locks.py) decides who may run a book, but it is
held on another connection: when that connection dies, a standby takes the
lock at once while the old owner, not yet aware, may still be committing. So
the lock is a hint, and the proof lives in the settlement transaction itself:

* ``ownership_take`` (a new owner, after it holds the pairs' locks) increments
  each pair's epoch in ``PairOwner`` and keeps the new values;
* ``ownership_prove`` (first statement of every settlement transaction) locks
  the pairs' epoch rows and raises ``OwnershipLost`` if any epoch moved on.

On PostgreSQL the proof's row lock is held until the batch commits, so a new
owner's increment waits for a batch that proved first, and a batch that
proves after the increment sees the new epoch (READ COMMITTED re-reads a
row it waited for): no batch of an old owner commits after a new owner took
the pair. The new owner then rebuilds from one snapshot taken after its
increment (``consistent_snapshot``), which includes every batch committed
before it. SQLite takes the database's write lock when the transaction
begins (``transaction_mode = IMMEDIATE``), so the same check is serialised
with the increment by the database itself; see docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.matching.models import PairOwner


class OwnershipLost(Exception):
    """A newer matcher took one of this matcher's pairs: stop writing."""


def ownership_take(*, pair_ids: Iterable[int], owner: str) -> dict[int, int]:
    """Become the fenced owner of ``pair_ids`` (call while holding their
    locks). Returns each pair's new epoch.

    Locks: the pairs' ``PairOwner`` rows (created if missing), by the UPDATE,
    in one transaction; it waits for a previous owner's batch that already
    proved its epoch, and commits before the caller rebuilds its books."""
    ids = sorted(set(pair_ids))
    now = timezone.now()
    with transaction.atomic():
        PairOwner.objects.bulk_create(
            [PairOwner(pair_id=pk, epoch=0, owner=owner, taken_at=now) for pk in ids],
            ignore_conflicts=True,
        )
        PairOwner.objects.filter(pair_id__in=ids).update(
            epoch=F("epoch") + 1, owner=owner, taken_at=now
        )
        return dict(
            PairOwner.objects.filter(pair_id__in=ids).values_list("pair_id", "epoch")
        )


def ownership_prove(epochs: Mapping[int, int]) -> None:
    """Inside a settlement transaction, before it writes: raise
    ``OwnershipLost`` unless every pair still has the epoch this matcher took.

    Locks: the pairs' ``PairOwner`` rows (FOR NO KEY UPDATE) until the
    transaction ends, so no new owner can take them meanwhile."""
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("needs an open transaction")
    current = dict(
        PairOwner.objects.select_for_update(no_key=True)
        .filter(pair_id__in=list(epochs))
        .order_by("pair_id")
        .values_list("pair_id", "epoch")
    )
    stale = sorted(pk for pk, epoch in epochs.items() if current.get(pk) != epoch)
    if stale:
        raise OwnershipLost(
            f"pair(s) {stale} have a newer owner "
            f"(epochs now {[current.get(pk) for pk in stale]})"
        )


@contextmanager
def consistent_snapshot() -> Iterator[None]:
    """A read transaction that sees one moment of the database: REPEATABLE
    READ on PostgreSQL (its snapshot is taken at the first query), a single
    transaction on SQLite. Inside an already open transaction (tests) it is
    that transaction's savepoint and sees what that transaction sees."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
