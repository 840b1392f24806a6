"""How a pending order, its hold and its command are written: the general
path (fixed inserts and the money service, any database) and PostgreSQL's
one statement (data-modifying CTEs composing accounts' hold statement).
``order_place`` (services.py) decides, validates and answers; this module
only writes. tests/orders/test_place_pg.py checks both paths write the same
rows.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from contextlib import nullcontext

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.ledger import (
    BalanceChange,
    balances_apply_in_transaction,
    hold_ctes,
    hold_params,
    overdraft_refused,
)
from apps.apikeys.models import ApiKey
from apps.core.bulk import cast_param as _cast
from apps.core.bulk import insert_returning_id
from apps.markets.models import Pair
from apps.orders import bus
from apps.orders.models import CommandKind, Order, OrderCommand, OrderStatus
from apps.orders.validation import OrderRequest
from apps.orders.wire import order_event

_ORDER_INSERT_FIELDS = [f for f in Order._meta.concrete_fields if not f.primary_key]


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


def place_general(
    user_id: int,
    pair: Pair,
    req: OrderRequest,
    hold: BalanceChange,
    api_key: ApiKey | None,
) -> Order:
    """The general path of ``order_place`` (any database): the order, its hold
    through the money service (which journals the hold's ``balances`` event
    and the order's ``orders`` event) and its command, in one transaction."""
    with transaction.atomic():
        order = _insert_order(user_id, pair, req, hold.d_held, api_key)
        balances_apply_in_transaction(
            changes=[dataclasses.replace(hold, order_id=order.pk)],
            events=[order_event(order, pair)],
            now=order.created_at,
            assets={hold.asset_id: pair.held_asset(req.side)},
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
    return order


@functools.cache
def _place_pg_sql(notify: bool) -> str:
    """The statement of ``_place_pg``; its text is fixed, so psycopg prepares it.
    Parameters are cast to their columns' types: INSERT ... SELECT does not
    infer them as INSERT ... VALUES does."""
    q = connection.ops.quote_name
    order_cols = [field.column for field in _ORDER_INSERT_FIELDS]
    hold = hold_ctes(balance="b", order="o", streams="s")
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
        f"o.id, {_cast(OrderCommand, 'created_at')}, NULL, '' FROM o), "
        # The hold's balances event and the order's orders event, after the
        # balance row's lock (b), as the journal orders its locks.
        f"s AS ({hold.streams}), "
        f"e AS ({hold.events}) "
        # Without Redis, the matcher's wake-up (bus.wake_matcher), delivered
        # on commit.
        + (
            f"SELECT o.id, {bus.notify_sql()} FROM o"
            if notify
            else "SELECT o.id FROM o"
        )
    )


def place_in_one_statement(
    user_id: int,
    pair: Pair,
    req: OrderRequest,
    hold: BalanceChange,
    api_key: ApiKey | None,
    *,
    savepoint: bool = True,
) -> Order | None:
    """PostgreSQL hot path of ``order_place``: the hold (balance and ledger
    entry), the order, its command and their two events (the journal's
    ``balances`` and ``orders``) in ONE statement, which is one
    transaction and one round trip where the general path takes six (BEGIN,
    four statements, COMMIT); the order path's database cost is mostly round
    trips. Without Redis the matcher's NOTIFY rides along.
    tests/orders/test_place_pg.py checks it writes what the general path
    writes.

    Returns None, having written nothing, when the funds are short (the
    caller's transaction stays usable; the general path answers exactly).
    ``savepoint=False``: no savepoint even inside a transaction (a batch's
    one transaction, which rolls back whole on a database error)."""
    order = _new_order(user_id, pair, req, hold.d_held, api_key)
    now = order.created_at
    hold_in = hold_params(
        hold, now, asset=pair.held_asset(req.side), event=order_event(order, pair)
    )
    params = [
        *hold_in.balance,
        *_order_values(order),
        *hold_in.ledger,
        pair.pk,
        CommandKind.PLACE.value,
        now,
        *hold_in.streams,
        *hold_in.events,
    ]
    notify = bus.wakes_by_notify()  # in the statement; else after it
    if notify:
        params.append(bus.wake_channel(pair.pk))
    # A savepoint only when called inside a transaction (tests, scripts) and
    # asked to; alone the statement is its own transaction.
    atomic = (
        transaction.atomic()
        if savepoint and connection.in_atomic_block
        else nullcontext()
    )
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
