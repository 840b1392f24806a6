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

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.journal import NewEvent, account_events_append_in_transaction
from apps.accounts.ledger.batch import apply_batch
from apps.accounts.ledger.changes import (
    BalanceChange,
    BalanceKey,
    overdraft_refused,
)
from apps.accounts.ledger.events import balance_events
from apps.accounts.ledger.single import (
    HoldCtes,
    HoldParams,
    apply_single,
    hold_ctes,
    hold_params,
)
from apps.accounts.models import Balance
from apps.markets.models import Asset

__all__ = [
    "BalanceChange",
    "BalanceKey",
    "HoldCtes",
    "HoldParams",
    "NewEvent",
    "balances_apply_in_transaction",
    "hold_ctes",
    "hold_params",
    "overdraft_refused",
]


def balances_apply_in_transaction(
    *,
    changes: Sequence[BalanceChange],
    events: Sequence[NewEvent] = (),
    now: datetime | None = None,
    assets: Mapping[int, Asset] | None = None,
) -> dict[BalanceKey, Balance]:
    """Apply ``changes`` with their ledger entries, for a caller whose open
    transaction rolls back as a whole on any error (the matcher's batch, the
    order path): no savepoint of its own. Then journal a ``balances`` event
    per changed row (``ledger.events``) together with the caller's
    ``events`` (orders, fills) of the same transaction, in one append, so the
    caller cannot forget the balances' and every counter is taken after every
    balance row (``apps.accounts.journal``). ``now`` stamps all of it;
    ``assets`` (by id), the changes' assets the caller has at hand, spare the
    events' formats a query.

    Locks: every touched Balance row, FOR UPDATE, ordered by (user_id, asset_id,
    wallet). Missing rows are created first (INSERT ... ON CONFLICT DO NOTHING),
    then locked. Raises InsufficientFunds (and writes nothing) if any running
    value would go below zero. Then the counter rows of the events' streams,
    in (channel, user_id) order.
    """
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("needs an open transaction")
    now = now or timezone.now()
    rows: dict[BalanceKey, Balance] = {}
    if len(changes) == 1:
        single = apply_single(changes[0], now)
        if single is not None:
            rows = {changes[0].key: single}
    if changes and not rows:
        rows = apply_batch(changes, now)
    account_events_append_in_transaction(
        events=[*balance_events(changes, rows, now, assets), *events], now=now
    )
    return rows
