"""The ledger mechanism: the only SQL that writes balances and ledger entries.

A change is a ``BalanceChange``. Each one writes a LedgerEntry, built by
``ledger_row``, in the transaction that moves the balance. A balance moves in
one of two ways:

- **Single row** (``single``): one ``UPDATE ... RETURNING`` of one row, its
  lock the UPDATE's own, a negative result refused by the CHECK constraints
  (``overdraft_refused`` reads that as InsufficientFunds), the result kept
  within BIGINT by guards. ``balances_apply_in_transaction`` runs it for a
  lone change, then inserts the entry. ``hold_ctes`` gives the same UPDATE
  and the entry's INSERT to the order path, which runs them as CTEs of its
  one PostgreSQL statement without knowing either table's columns.
- **Batch** (``batch``): lock every touched row FOR UPDATE in (user_id,
  asset_id, wallet) order, so two transactions never wait on each other in a
  cycle; create missing rows; apply the deltas in Python, refusing any
  negative or oversized running value; then one UPDATE of all the rows and
  one bulk INSERT of the entries. Used for several changes (the matcher's
  batches, transfers), and for a lone change the single-row UPDATE could not
  apply (missing row, or past BIGINT), to get the exact answer.

The use cases (deposit, hold, transfer, ...) are in ``apps.accounts.services``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction

from apps.accounts.ledger.batch import apply_batch
from apps.accounts.ledger.changes import (
    BalanceChange,
    BalanceKey,
    overdraft_refused,
)
from apps.accounts.ledger.single import (
    HoldCtes,
    apply_single,
    hold_ctes,
    hold_params,
)
from apps.accounts.models import Balance

__all__ = [
    "BalanceChange",
    "BalanceKey",
    "HoldCtes",
    "balances_apply_in_transaction",
    "hold_ctes",
    "hold_params",
    "overdraft_refused",
]


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
        single = apply_single(changes[0])
        if single is not None:
            return {changes[0].key: single}
    return apply_batch(changes)
