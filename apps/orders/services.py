"""Order placement and cancellation on the API side.

The API never touches a book: it validates, holds funds and queues a command
in ONE transaction; the matcher does the rest. See DESIGN.md "The order path".
"""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from apps.accounts.errors import InsufficientFunds
from apps.accounts.ledger import (
    BalanceChange,
    balances_apply_in_transaction,
    hold_ctes,
    hold_params,
    overdraft_refused,
)
from apps.accounts.models import LedgerReason, Wallet
from apps.apikeys.models import ApiKey
from apps.core.bulk import cast_param as _cast
from apps.core.bulk import insert_returning_id
from apps.core.errors import DomainError, ErrorCode, Overloaded
from apps.core.money import check_units
from apps.markets.models import Pair, PairStatus
from apps.matching import bus
from apps.matching.adapter import book_config
from apps.matching.engine import band_limit, buy_limit_hold
from apps.orders.errors import ClientOrderIdConflict
from apps.orders.models import (
    FINAL_STATUSES,
    LIVE_STATUSES,
    MATCHER_FIELDS,
    CancelAllAfter,
    CommandKind,
    Order,
    OrderCommand,
    OrderStatus,
    OrderType,
)
from apps.orders.validation import OrderRequest


def _check_pair_accepts(pair: Pair, kind: str) -> None:
    if pair.status == PairStatus.HALTED:
        raise DomainError(
            f"{pair.symbol} is halted.",
            code=ErrorCode.MARKET_HALTED,
            details={"pair": pair.symbol},
        )
    if pair.status == PairStatus.CANCEL_ONLY and kind == CommandKind.PLACE:
        raise DomainError(
            f"{pair.symbol} accepts cancels only.",
            code=ErrorCode.MARKET_CANCEL_ONLY,
            details={"pair": pair.symbol},
        )


_queue_memo: dict[int, tuple[float, int]] = {}


def queue_depth(pair_id: int) -> int:
    """Unprocessed commands of the pair, counted at most up to the bound and
    at most every MATCHER_QUEUE_CHECK_MS per process: the count stays O(bound) and off
    the hot path, and the bound may be overshot by one memo period's orders."""
    now = time.monotonic()
    memo = _queue_memo.get(pair_id)
    if memo is not None and now - memo[0] < settings.MATCHER_QUEUE_CHECK_MS / 1000:
        return memo[1]
    bound = settings.MATCHER_MAX_QUEUE
    depth = OrderCommand.objects.filter(pair_id=pair_id, processed_at__isnull=True)[
        :bound
    ].count()
    _queue_memo[pair_id] = (now, depth)
    return depth


def _check_queue(pair: Pair) -> None:
    queued = queue_depth(pair.pk)
    if queued >= settings.MATCHER_MAX_QUEUE:
        raise Overloaded(
            f"{pair.symbol}'s matcher queue is full; retry shortly.",
            details={"pair": pair.symbol, "queued": queued},
        )  # a 503: the exception handler adds Retry-After


def _reference_ask(pair: Pair) -> int | None:
    """Best resting ask from the database, to bound a market buy by size."""
    return (
        Order.objects.filter(
            pair=pair,
            side="sell",
            status__in=(OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED),
        )
        .filter(
            Q(type=OrderType.LIMIT)
            | Q(type=OrderType.STOP_LIMIT, triggered_at__isnull=False)
        )
        .aggregate(p=Min("price"))["p"]
    )


def hold_amount(pair: Pair, req: OrderRequest) -> int:
    """What to hold, in minor units of ``pair.held_asset(req.side)``.

    Sells hold their size. Limit buys hold price x size plus the worst-case fee.
    Market buys by funds hold the funds (fees included). Market buys by size
    hold at the price band's edge above the best ask (a stop: above its stop
    price), so the engine can fill within the band without exceeding the hold.
    """
    if req.side == "sell":
        assert req.size is not None
        return req.size * pair.lot_size
    if req.funds is not None:
        return req.funds
    cfg = book_config(pair)
    assert req.size is not None
    if req.price is not None:
        return buy_limit_hold(req.price, req.size, cfg)
    ref = req.stop_price if req.stop_price is not None else _reference_ask(pair)
    if ref is None:
        raise DomainError(
            "No resting asks to bound a market buy by size; send funds or a limit order.",
            code=ErrorCode.ORDER_NO_REFERENCE_PRICE,
            details={"pair": pair.symbol},
        )
    return buy_limit_hold(band_limit(ref, True, pair.price_band_bps), req.size, cfg)


def _request_of(order: Order) -> OrderRequest:
    return OrderRequest(
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        stp=order.stp,
        price=order.price,
        stop_price=order.stop_price,
        size=order.size,
        funds=order.funds,
        client_order_id=order.client_order_id,
    )


def _replay(user_id: int, pair: Pair, req: OrderRequest) -> PlaceResult | None:
    """The answer to a repeated ``client_order_id``: the original order
    (``replayed``), or ORDER_CLIENT_ID_CONFLICT when it differs; None when
    the request has no id or its id is new."""
    if not req.client_order_id:
        return None
    existing = Order.objects.filter(
        user_id=user_id, client_order_id=req.client_order_id
    ).first()
    if existing is None:
        return None
    if existing.pair_id != pair.pk or not _request_of(existing).same_order_as(req):
        diff = (
            ["pair"]
            if existing.pair_id != pair.pk
            else _request_of(existing).differences(req)
        )
        raise ClientOrderIdConflict(
            "client_order_id was already used for a different order.",
            details={
                "client_order_id": req.client_order_id,
                "order_id": str(existing.uuid),
                "different_fields": diff,
            },
        )
    return PlaceResult(existing, True)


def _new_order(
    user_id: int, pair: Pair, req: OrderRequest, hold: int, api_key: ApiKey | None
) -> Order:
    """The pending order ``req`` becomes, not yet saved."""
    now = timezone.now()
    return Order(
        uuid=uuid.uuid4(),
        user_id=user_id,
        api_key=api_key,
        pair=pair,
        side=req.side,
        type=req.type,
        time_in_force=req.time_in_force,
        post_only=req.post_only,
        stp=req.stp,
        price=req.price,
        stop_price=req.stop_price,
        size=req.size,
        funds=req.funds,
        hold_amount=hold,
        client_order_id=req.client_order_id,
        status=OrderStatus.PENDING,
        created_at=now,
        updated_at=now,
    )


def _order_values(order: Order) -> list[object]:
    return [
        field.get_db_prep_save(getattr(order, field.attname), connection)
        for field in _ORDER_INSERT_FIELDS
    ]


def _saved(order: Order, pk: int) -> Order:
    """``order`` as if it had been created through the ORM."""
    order.pk = pk
    order._state.adding, order._state.db = False, "default"
    return order


def _insert_order(
    user_id: int, pair: Pair, req: OrderRequest, hold: int, api_key: ApiKey | None
) -> Order:
    """Insert a pending order with one fixed INSERT (hot path)."""
    order = _new_order(user_id, pair, req, hold, api_key)
    columns = [field.column for field in _ORDER_INSERT_FIELDS]
    pk = insert_returning_id(
        Order, dict(zip(columns, _order_values(order), strict=True))
    )
    return _saved(order, pk)


_ORDER_INSERT_FIELDS = [f for f in Order._meta.concrete_fields if not f.primary_key]


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order: Order
    replayed: bool


def order_place(
    *,
    user_id: int,
    pair: Pair,
    req: OrderRequest,
    api_key: ApiKey | None = None,
) -> PlaceResult:
    """Hold the funds and queue the order as ``pending``, in one transaction.

    Takes the user's id, not the user: the hot path never needs the user row.
    Locks the one balance row being held (through the money service, within
    this transaction: any error rolls back order, hold and command). A repeated
    ``client_order_id`` returns the original order (``replayed``) or raises
    ORDER_CLIENT_ID_CONFLICT; of two racing requests with the same id one
    commits and the other replays it (see the except clause), so only one
    order and one hold ever exist.
    """
    # Before the pair's checks: a replay is answered even on a halted pair.
    replay = _replay(user_id, pair, req)
    if replay is not None:
        return replay
    _check_pair_accepts(pair, CommandKind.PLACE)
    _check_queue(pair)
    amount = hold_amount(pair, req)
    asset = pair.held_asset(req.side)
    # Each amount fits on its own (parse_units); price x size may not.
    check_units(
        amount, asset.scale, field="size" if req.side == "sell" else "price x size"
    )
    hold = BalanceChange(
        user_id, asset.pk, Wallet.SPOT, -amount, amount, LedgerReason.HOLD
    )
    try:
        placed = (
            _place_pg(user_id, pair, req, hold, api_key)
            if _place_in_one_statement()
            else None
        )
        if placed is not None:
            return PlaceResult(placed, False)
        with transaction.atomic():
            order = _insert_order(user_id, pair, req, amount, api_key)
            balances_apply_in_transaction(
                changes=[dataclasses.replace(hold, order_id=order.pk)]
            )
            insert_returning_id(
                OrderCommand,
                {
                    "pair_id": pair.pk,
                    "kind": CommandKind.PLACE.value,
                    "order_id": order.pk,
                    "created_at": order.created_at,
                    "processed_at": None,
                    "result": "",
                },
            )
            bus.wake_matcher(pair.pk)
    except (IntegrityError, InsufficientFunds):
        # A request racing this one with the same client_order_id committed
        # first: its order took the id (unique constraint) or, where the hold
        # comes first (PostgreSQL's statement), its hold took the funds.
        # Either way the answer is that order, never a second one or an error.
        replay = _replay(user_id, pair, req)
        if replay is None:
            raise
        return replay
    return PlaceResult(order, False)


def _place_in_one_statement() -> bool:
    """Whether order_place writes the hold, the order and its command in ONE
    statement (``_place_pg``): on PostgreSQL, whose data-modifying CTEs make
    that possible; other databases take the general path."""
    return connection.vendor == "postgresql"


@functools.cache
def _place_pg_sql(notify: bool) -> str:
    """The statement of ``_place_pg``; its text is fixed, so psycopg prepares it.
    Parameters are cast to their columns' types: INSERT ... SELECT does not
    infer them as INSERT ... VALUES does."""
    q = connection.ops.quote_name
    order_cols = [field.column for field in _ORDER_INSERT_FIELDS]
    hold = hold_ctes(balance="b", order="o")
    return (
        # The hold, as accounts writes a single row: a negative result raises
        # (the CHECK constraints; _place_pg maps it to InsufficientFunds).
        f"WITH b AS ({hold.balance}), "
        # No balance row, or a held amount past BIGINT: b is empty, nothing
        # below is written, and the caller takes the general path.
        f"o AS (INSERT INTO {q(Order._meta.db_table)} "
        f"({', '.join(q(c) for c in order_cols)}) "
        f"SELECT {', '.join(_cast(Order, c) for c in order_cols)} FROM b "
        "RETURNING id), "
        f"l AS ({hold.ledger}), "
        f"c AS (INSERT INTO {q(OrderCommand._meta.db_table)} "
        "(pair_id, kind, order_id, created_at, processed_at, result) "
        f"SELECT {_cast(OrderCommand, 'pair_id')}, {_cast(OrderCommand, 'kind')}, "
        f"o.id, {_cast(OrderCommand, 'created_at')}, NULL, '' FROM o) "
        # Without Redis, the matcher's wake-up (bus.wake_matcher), delivered
        # on commit.
        + ("SELECT o.id, pg_notify(%s, '') FROM o" if notify else "SELECT o.id FROM o")
    )


def _place_pg(
    user_id: int,
    pair: Pair,
    req: OrderRequest,
    hold: BalanceChange,
    api_key: ApiKey | None,
) -> Order | None:
    """PostgreSQL hot path of ``order_place``: the hold (balance and ledger
    entry), the order and its command in ONE statement, which is one
    transaction and one round trip where the general path takes six (BEGIN,
    four statements, COMMIT); the order path's database cost is mostly round
    trips. Without Redis the matcher's NOTIFY rides along.
    tests/orders/test_place_pg.py checks it writes what the general path
    writes."""
    order = _new_order(user_id, pair, req, hold.d_held, api_key)
    now = order.created_at
    balance_params, ledger_params = hold_params(hold, now)
    params = [
        *balance_params,
        *_order_values(order),
        *ledger_params,
        pair.pk,
        CommandKind.PLACE.value,
        now,
    ]
    notify = bus.wakes_by_notify()  # in the statement; else after it
    if notify:
        params.append(bus.wake_channel(pair.pk))
    # A savepoint only when called inside a transaction (tests, scripts);
    # alone the statement is its own transaction.
    atomic = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with overdraft_refused(hold), atomic, connection.cursor() as cursor:
        cursor.execute(_place_pg_sql(notify), params)
        row = cursor.fetchone()
    if row is None:
        # Nothing was written. The general path gives the exact answer: no
        # balance row (insufficient funds) or a balance past BIGINT.
        return None
    if not notify:
        bus.wake_matcher(pair.pk)  # Redis, after commit
    return _saved(order, row[0])


CANCEL_RESULTS = {
    OrderStatus.CANCELLED: "already_cancelled",
    OrderStatus.FILLED: "already_filled",
    OrderStatus.REJECTED: "already_rejected",
}


def order_cancel(*, order: Order) -> str:
    """Queue a cancel for ``order`` (idempotent). Returns the cancel_result for
    an order that is already final, else "requested". Refused while halted."""
    if order.status in FINAL_STATUSES:
        return CANCEL_RESULTS[OrderStatus(order.status)]
    pair = order.pair
    _check_pair_accepts(pair, CommandKind.CANCEL)
    with transaction.atomic():
        already = OrderCommand.objects.filter(
            order=order, kind=CommandKind.CANCEL, processed_at__isnull=True
        ).exists()
        if not already:
            OrderCommand.objects.create(pair=pair, kind=CommandKind.CANCEL, order=order)
            bus.wake_matcher(pair.pk)
    return "requested"


def order_wait(
    *, order: Order, timeout_s: float | None = None, until_final: bool = False
) -> Order:
    """Wait (bounded) for the matcher to process ``order``; returns it re-read."""
    timeout = (
        settings.ORDER_RESULT_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s
    )

    def processed() -> bool:
        # Only what the matcher changes: a full refresh would also drop the
        # cached pair (and its assets), costing three more queries to answer.
        order.refresh_from_db(fields=MATCHER_FIELDS)
        if until_final:
            return order.status in FINAL_STATUSES
        return order.status != OrderStatus.PENDING

    bus.wait_for(order.pk, processed, timeout)
    return order


def orders_cancel_all(
    *, user: AbstractBaseUser, pair: Pair | None = None, api_key: ApiKey | None = None
) -> list[Order]:
    """Queue a cancel for each of the user's live orders (optionally one pair's,
    or one key's). Pairs that are halted are skipped (their books are frozen)."""
    qs = Order.objects.select_related("pair").filter(
        user=user, status__in=LIVE_STATUSES
    )
    if pair is not None:
        qs = qs.filter(pair=pair)
    if api_key is not None:
        qs = qs.filter(api_key=api_key)
    requested = []
    for order in qs.order_by("pk"):
        if order.pair.status == PairStatus.HALTED:
            continue
        order_cancel(order=order)
        requested.append(order)
    return requested


MIN_DEADMAN_S = 5


def cancel_all_after_set(*, api_key: ApiKey, timeout_s: int) -> CancelAllAfter | None:
    """Arm (or refresh) the key's dead-man timer for ``timeout_s`` seconds from
    now; 0 disarms it. Returns the armed timer or None."""
    if timeout_s == 0:
        CancelAllAfter.objects.filter(api_key=api_key).delete()
        return None
    if timeout_s < MIN_DEADMAN_S:
        raise DomainError(
            f"timeout_s must be 0 or at least {MIN_DEADMAN_S}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "timeout_s"},
        )
    timer, _ = CancelAllAfter.objects.update_or_create(
        api_key=api_key,
        defaults={"deadline": timezone.now() + timedelta(seconds=timeout_s)},
    )
    return timer


def cancel_all_after_fire(*, now: datetime | None = None) -> int:
    """Cancel the live orders of every key whose timer expired, then disarm
    it. Run by the matcher's housekeeping about once a second."""
    now = now or timezone.now()
    fired = 0
    for timer in CancelAllAfter.objects.select_related("api_key__user").filter(
        deadline__lte=now
    ):
        with transaction.atomic():
            # Re-check under a lock: a refresh may have landed meanwhile.
            live = CancelAllAfter.objects.select_for_update().filter(
                pk=timer.pk, deadline__lte=now
            )
            if not live.exists():
                continue
            orders_cancel_all(user=timer.api_key.user, api_key=timer.api_key)
            fired += 1
            frozen = Order.objects.filter(
                api_key=timer.api_key,
                status__in=LIVE_STATUSES,
                pair__status=PairStatus.HALTED,
            ).exists()
            if not frozen:
                live.delete()
            # else: stay armed; orders on a halted pair are cancelled once it
            # resumes (queued cancels are idempotent).
    return fired
