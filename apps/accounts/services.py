"""The money service: every balance change in the exchange goes through here.

All writes funnel into ``balances_apply``, which locks the touched balance rows
with SELECT ... FOR UPDATE in one stable order ((user_id, asset_id, wallet)
ascending, so two transactions can never wait on each other in a cycle), applies
the deltas, refuses any that would make ``available`` or ``held`` negative, and
writes one LedgerEntry per change in the same transaction. The matcher batches
many changes into one call: one UPDATE per touched row, one bulk INSERT of entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.errors import InsufficientFunds, InvalidTransfer
from apps.accounts.models import (
    Account,
    Balance,
    LedgerEntry,
    LedgerReason,
    Tier,
    Wallet,
)
from apps.core.bulk import bulk_insert, db_datetime, insert_returning_id
from apps.core.errors import DomainError, ErrorCode, ValidationFailed
from apps.core.money import MAX_UNITS
from apps.markets.models import Asset

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


_LOCK_CHUNK = 250  # keys per SELECT: SQLite refuses expression trees past depth 1000


def _ledger_row(
    change: BalanceChange, available: int, held: int, now: Any
) -> tuple[Any, ...]:
    """A ledger entry for ``change`` leaving the row at (available, held), in
    LEDGER_COLUMNS order."""
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


_BALANCE_COLUMNS = "id, user_id, asset_id, wallet, available, held, updated_at"


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


@transaction.atomic
def balances_apply(*, changes: Sequence[BalanceChange]) -> dict[BalanceKey, Balance]:
    """Apply ``changes`` atomically, with their ledger entries (see
    ``balances_apply_in_transaction``, which this wraps in a savepoint)."""
    return balances_apply_in_transaction(changes=changes)


def balances_apply_in_transaction(
    *, changes: Sequence[BalanceChange]
) -> dict[BalanceKey, Balance]:
    """``balances_apply`` for a caller whose open transaction rolls back as a
    whole on any error (the matcher's batch): no savepoint of its own.

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


_WRITE_CHUNK = 2_000  # 4 parameters a row: under SQLite's 32,766


def _write_rows(rows: list[Balance], now: Any) -> None:
    """UPDATE ... FROM (VALUES ...) for the locked rows' new values, a chunk
    at a time (bulk_update's CASE per column costs more to build than to run);
    on PostgreSQL one fixed statement with array parameters."""
    for row in rows:
        row.updated_at = now
    if connection.vendor == "postgresql":
        table = Balance._meta.db_table
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
        _write_chunk(rows[start : start + _WRITE_CHUNK], now)


def _write_chunk(rows: list[Balance], now: Any) -> None:
    table = Balance._meta.db_table
    values = ", ".join(
        ["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(rows)
    )
    params: list[Any] = [db_datetime(now)]
    for row in rows:
        params += [row.pk, row.available, row.held]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET available = v.column2, held = v.column3, updated_at = %s "
            f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1 "
            # By primary key: joined with VALUES alone the planner may scan the table.
            f"AND {table}.id IN ({', '.join(['%s'] * len(rows))})",
            [*params, *(row.pk for row in rows)],
        )


def _apply_single(change: BalanceChange) -> Balance | None:
    """One change to an existing row in one statement: UPDATE ... RETURNING.

    The row lock is the UPDATE's own; the CHECK constraints refuse a negative
    result (mapped to InsufficientFunds). Half the round trips of SELECT FOR
    UPDATE + UPDATE on the API's hot path (one hold per order). Returns None
    when the row does not exist yet (the general path creates it) or when the
    result would pass BIGINT (the general path refuses it; NUMERIC here, as
    SQLite would silently turn an overflowing sum into a float).
    """
    table = Balance._meta.db_table
    try:
        # No savepoint of its own: balances_apply's atomic() rolls back to its
        # savepoint when this raises.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET available = available + %s, held = held + %s, "
                "updated_at = %s WHERE user_id = %s AND asset_id = %s AND wallet = %s "
                "AND CAST(available AS NUMERIC) + %s <= %s "
                "AND CAST(held AS NUMERIC) + %s <= %s "
                "RETURNING id, available, held",
                [
                    change.d_available,
                    change.d_held,
                    db_datetime(timezone.now()),
                    change.user_id,
                    change.asset_id,
                    change.wallet,
                    change.d_available,
                    MAX_UNITS,
                    change.d_held,
                    MAX_UNITS,
                ],
            )
            row = cursor.fetchone()
    except IntegrityError as exc:
        raise_if_overdrawn(exc, change)
        raise
    if row is None:
        return None
    balance = Balance(
        id=row[0],
        user_id=change.user_id,
        asset_id=change.asset_id,
        wallet=change.wallet,
        available=row[1],
        held=row[2],
    )
    entry = _ledger_row(change, row[1], row[2], timezone.now())
    insert_returning_id(LedgerEntry, dict(zip(LEDGER_COLUMNS, entry, strict=True)))
    return balance


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


def raise_if_overdrawn(exc: IntegrityError, change: BalanceChange) -> None:
    """Map a balance CHECK constraint violation (a negative available or held)
    raised while applying ``change`` to InsufficientFunds."""
    if _violated_constraint(exc) in _NON_NEGATIVE:
        raise InsufficientFunds(
            details={"asset_id": change.asset_id, "wallet": change.wallet}
        ) from exc


def _positive(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed("Amount must be a positive integer of minor units.")


def _wallet(wallet: str) -> str:
    if wallet not in Wallet.values:
        raise ValidationFailed(
            f"Unknown wallet {wallet!r}.", details={"wallet": wallet}
        )
    return wallet


def _one(change: BalanceChange) -> Balance:
    return balances_apply(changes=[change])[change.key]


def balance_deposit(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    reason: str = LedgerReason.DEPOSIT,
    ref: str = "",
) -> Balance:
    """Credit ``amount`` to available (deposit, faucet). Locks the one row."""
    _positive(amount)
    if reason not in (LedgerReason.DEPOSIT, LedgerReason.FAUCET):
        raise ValidationFailed("A deposit's reason is deposit or faucet.")
    return _one(
        BalanceChange(user.pk, asset.pk, _wallet(wallet), amount, 0, reason, ref=ref)
    )


def balance_withdraw(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    ref: str = "",
    from_held: bool = False,
) -> Balance:
    """Debit ``amount`` leaving the exchange, from available (or from a
    withdrawal's earlier hold when ``from_held``). Locks the one row."""
    _positive(amount)
    d_avail, d_held = (0, -amount) if from_held else (-amount, 0)
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            d_avail,
            d_held,
            LedgerReason.WITHDRAWAL,
            ref=ref,
        )
    )


def balance_hold(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    order_id: int | None = None,
    ref: str = "",
) -> Balance:
    """Move ``amount`` from available to held. Locks the one row; raises
    InsufficientFunds when available is short."""
    _positive(amount)
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            -amount,
            amount,
            LedgerReason.HOLD,
            order_id=order_id,
            ref=ref,
        )
    )


def balance_release(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    wallet: str = Wallet.SPOT,
    order_id: int | None = None,
    ref: str = "",
) -> Balance:
    """Move ``amount`` from held back to available. Locks the one row."""
    _positive(amount)
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            amount,
            -amount,
            LedgerReason.RELEASE,
            order_id=order_id,
            ref=ref,
        )
    )


def balance_transfer(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    from_wallet: str,
    to_wallet: str,
    ref: str = "",
) -> tuple[Balance, Balance]:
    """Move available funds between two of the user's wallets. Locks both rows
    (in the stable order)."""
    _positive(amount)
    if _wallet(from_wallet) == _wallet(to_wallet):
        raise InvalidTransfer("Source and destination wallets are the same.")
    out = BalanceChange(
        user.pk, asset.pk, from_wallet, -amount, 0, LedgerReason.TRANSFER, ref=ref
    )
    into = BalanceChange(
        user.pk, asset.pk, to_wallet, amount, 0, LedgerReason.TRANSFER, ref=ref
    )
    rows = balances_apply(changes=[out, into])
    return rows[out.key], rows[into.key]


def balance_adjust(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    delta: int,
    wallet: str = Wallet.SPOT,
    ref: str,
) -> Balance:
    """Staff correction of available funds (admin action), always with a reason
    text in ``ref``. Counts as an external flow in the ledger check."""
    if not isinstance(delta, int) or delta == 0:
        raise ValidationFailed("An adjustment is a non-zero integer of minor units.")
    if not ref.strip():
        raise ValidationFailed("An adjustment needs a reason.")
    return _one(
        BalanceChange(
            user.pk,
            asset.pk,
            _wallet(wallet),
            delta,
            0,
            LedgerReason.ADJUSTMENT,
            ref=ref[:64],
        )
    )


@transaction.atomic
def account_create(
    *,
    username: str,
    password: str | None = None,
    email: str = "",
    tier: str = Tier.UNVERIFIED,
) -> AbstractBaseUser:
    """Create a user and its exchange account."""
    user = get_user_model().objects.create_user(
        username=username, email=email, password=password
    )
    Account.objects.create(user=user, tier=tier)
    return user


def account_get(*, user: AbstractBaseUser) -> Account:
    """The user's Account, created on first use for users made outside
    ``account_create`` (createsuperuser, admin)."""
    account, _ = Account.objects.get_or_create(user=user)
    return account


def fee_user() -> AbstractBaseUser:
    """The system user whose balances collect trading fees."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=settings.FEE_ACCOUNT_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Account.objects.get_or_create(user=user, defaults={"is_system": True})
    return user
