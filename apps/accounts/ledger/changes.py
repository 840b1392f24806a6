"""What a balance change is, the ledger entry it writes, and how an
overdraft refused by the database reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError

from apps.accounts.errors import InsufficientFunds

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


def ledger_row(
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
