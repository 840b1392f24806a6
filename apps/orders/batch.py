"""Batches of placements and cancels (``POST /v1/orders/batch`` and
``/v1/orders/cancel-batch``): each entry goes through the very service a single
call uses (``order_place``, ``order_cancel``), so one refused entry never takes
the others down with it; then ONE bounded wait for the matcher's outcome of
all of them (``orders_wait``), as a single call waits for its one order, and
one wake-up of the matcher per pair.

Placements share ONE transaction where the database allows it (PostgreSQL:
each placement is one statement that refuses short funds without an error):
one commit for the batch instead of one per order. Should a database error
break that transaction (a client_order_id racing another request's), it rolls
back whole and the batch is placed again, each order in its own transaction,
so the answers are exactly a single call's.

A result is the entry's outcome or the error it alone met, in request order.
The edge (apps/orders/api/batch.py) parses the entries and renders results.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from psycopg.pq import TransactionStatus

from apps.apikeys.models import ApiKey
from apps.core.errors import DomainError, ErrorCode
from apps.core.exceptions import domain_error_of
from apps.markets.models import Pair
from apps.orders import bus, cancels, selectors, services
from apps.orders.models import FINAL_STATUSES, Order
from apps.orders.services import PlaceResult
from apps.orders.validation import OrderRequest

log = logging.getLogger(__name__)

MAX_BATCH = 20


@dataclass(frozen=True, slots=True)
class PlaceEntry:
    """One validated placement of a batch."""

    pair: Pair
    req: OrderRequest
    wait: bool  # wait for the matcher (response_type result or full)


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    order: Order
    result: str  # a single cancel's cancel_result


def check_batch_size(count: int) -> None:
    """VALIDATION_BATCH_SIZE unless 1 <= ``count`` <= MAX_BATCH."""
    if not 1 <= count <= MAX_BATCH:
        raise DomainError(
            f"A batch takes 1 to {MAX_BATCH} entries; this one has {count}.",
            code=ErrorCode.VALIDATION_BATCH_SIZE,
            details={"min": 1, "max": MAX_BATCH, "count": count},
        )


def _duplicate(coid: str, first: int) -> DomainError:
    return DomainError(
        "client_order_id is already used by an earlier order of this batch.",
        code=ErrorCode.ORDER_BATCH_DUPLICATE_CLIENT_ID,
        details={"client_order_id": coid, "first_index": first},
    )


def orders_place_batch(
    *, user_id: int, api_key: ApiKey | None, entries: Sequence[PlaceEntry]
) -> list[PlaceResult | DomainError]:
    """Place each entry on its own (``order_place``: its hold, order and
    command in one transaction; idempotent on client_order_id), in order, then
    wait once, bounded, for the matcher's outcome of the new ones to wait for.

    A client_order_id already used by an earlier entry of the batch is refused
    (ORDER_BATCH_DUPLICATE_CLIENT_ID) in the later entry's slot. Locks what
    ``order_place`` locks, one entry after the other; in the shared
    transaction each balance row stays locked until the batch commits."""
    with bus.wakes_deferred():
        results = (
            _place_in_one_transaction(user_id, api_key, entries)
            if services.placements_share_transaction()
            else None
        )
        if results is None:
            results = _place_each(user_id, api_key, entries, shared=False)
    to_wait = [
        r.order
        for r, entry in zip(results, entries, strict=True)
        if isinstance(r, PlaceResult) and not r.replayed and entry.wait
    ]
    services.orders_wait(orders=to_wait)
    return results


class _TransactionLost(Exception):
    """The shared transaction cannot go on; roll it back and place again."""


def _place_in_one_transaction(
    user_id: int, api_key: ApiKey | None, entries: Sequence[PlaceEntry]
) -> list[PlaceResult | DomainError] | None:
    """Every entry in ONE transaction; None, having written nothing, when a
    database error broke it."""
    try:
        with transaction.atomic():
            return _place_each(user_id, api_key, entries, shared=True)
    except _TransactionLost:
        log.info("batch of %d placed again one by one", len(entries), exc_info=True)
        return None


def _place_each(
    user_id: int, api_key: ApiKey | None, entries: Sequence[PlaceEntry], *, shared: bool
) -> list[PlaceResult | DomainError]:
    results: list[PlaceResult | DomainError] = []
    first_of: dict[str, int] = {}
    for index, entry in enumerate(entries):
        coid = entry.req.client_order_id
        if coid is not None and coid in first_of:
            results.append(_duplicate(coid, first_of[coid]))
            continue
        if coid is not None:
            first_of[coid] = index
        results.append(_place_one(user_id, api_key, entry, shared=shared))
    return results


def _place_one(
    user_id: int, api_key: ApiKey | None, entry: PlaceEntry, *, shared: bool
) -> PlaceResult | DomainError:
    try:
        return services.order_place(
            user_id=user_id,
            pair=entry.pair,
            req=entry.req,
            api_key=api_key,
            in_shared_transaction=shared,
        )
    except DomainError as exc:
        if shared and _transaction_broken():
            raise _TransactionLost from exc
        return exc
    except Exception as exc:  # noqa: BLE001 - one entry's error stays in its slot
        if shared:  # the transaction may be lost: place the batch again
            raise _TransactionLost from exc
        # An unexpected one too: the entries before it are placed and held,
        # so the batch must still answer them (domain_error_of logs it).
        return domain_error_of(exc)


def _transaction_broken() -> bool:
    """Whether PostgreSQL refuses further statements in this transaction
    (an error inside it that no savepoint caught)."""
    raw = connection.connection
    return raw is not None and raw.info.transaction_status == TransactionStatus.INERROR


def orders_cancel_batch(
    *, user_id: int, order_refs: Sequence[str]
) -> list[CancelOutcome | DomainError]:
    """Cancel each of the user's orders named in ``order_refs`` (an id or
    ``client:<client_order_id>``, as the single cancel's path takes them):
    queue each cancel (``order_cancel``, idempotent), then wait once, bounded,
    until the requested ones are final. Another user's order, or none, is
    ORDER_NOT_FOUND in its slot."""
    requested: list[Order] = []
    outcomes: list[CancelOutcome | DomainError] = []
    for ref in order_refs:
        try:
            order = selectors.order_get_for_user(user=user_id, order_ref=ref)
            result = cancels.order_cancel(order=order)
        except Exception as exc:  # noqa: BLE001 - one entry's error stays in its slot
            outcomes.append(domain_error_of(exc))
            continue
        if result == "requested":
            requested.append(order)
        outcomes.append(CancelOutcome(order, result))
    services.orders_wait(orders=requested, until_final=True)
    return [_settled(o) for o in outcomes]


def _settled(outcome: CancelOutcome | DomainError) -> CancelOutcome | DomainError:
    """A requested cancel's result after the wait, as a single cancel says it."""
    if isinstance(outcome, DomainError) or outcome.result != "requested":
        return outcome
    order = outcome.order
    if order.status not in FINAL_STATUSES:
        return CancelOutcome(order, "pending")
    result = cancels.CANCEL_RESULTS[order.status]
    return CancelOutcome(
        order, "cancelled" if result == "already_cancelled" else result
    )
