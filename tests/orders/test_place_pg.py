"""The order path's PostgreSQL statement (one statement: hold, ledger entry,
order, command) against the general path every other database takes."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from apps.accounts.errors import InsufficientFunds
from apps.accounts.models import Balance, LedgerEntry
from apps.accounts.services import account_create, balance_deposit
from apps.orders import services
from apps.orders.models import Order, OrderCommand
from apps.orders.validation import OrderRequest

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the PostgreSQL statement"
    ),
]

BTC, USD = 10**8, 10**6
ORDER_FIELDS = (
    "side type time_in_force post_only stp price stop_price size funds "
    "hold_amount filled_size filled_quote fee status client_order_id"
).split()
LEDGER_FIELDS = (
    "asset_id wallet delta_available delta_held available_after held_after "
    "reason trade_id ref"
).split()


def _place(monkeypatch, general: bool, user, pair, req):
    if general:
        monkeypatch.setattr(services, "_place_in_one_statement", lambda: False)
    try:
        return services.order_place(user_id=user.pk, pair=pair, req=req).order
    finally:
        monkeypatch.undo()


def _rows(user, order):
    return (
        {f: getattr(Order.objects.get(pk=order.pk), f) for f in ORDER_FIELDS},
        [
            {f: getattr(e, f) for f in LEDGER_FIELDS}
            for e in LedgerEntry.objects.filter(user=user, order=order)
        ],
        list(OrderCommand.objects.filter(order=order).values_list("kind", "pair_id")),
    )


@pytest.mark.parametrize(
    "req",
    [
        OrderRequest(side="buy", type="limit", price=6_300_000, size=100),
        OrderRequest(side="sell", type="limit", price=6_300_000, size=37),
        OrderRequest(
            side="buy", type="market", funds=250 * USD, client_order_id="mkt-1"
        ),
        OrderRequest(
            side="sell",
            type="stop_limit",
            price=6_000_000,
            stop_price=6_100_000,
            size=5,
            time_in_force="ioc",
        ),
    ],
    ids=["limit-buy", "limit-sell", "market-funds", "stop-limit"],
)
def test_writes_what_the_general_path_writes(monkeypatch, btc_usd, assert_ledger, req):
    users = [account_create(username=f"u{i}") for i in range(2)]
    for user in users:
        balance_deposit(user=user, asset=btc_usd.base, amount=10 * BTC)
        balance_deposit(user=user, asset=btc_usd.quote, amount=10**6 * USD)
    fast = _place(monkeypatch, False, users[0], btc_usd, req)
    slow = _place(monkeypatch, True, users[1], btc_usd, req)
    assert fast.pk != slow.pk
    assert _rows(users[0], fast) == _rows(users[1], slow)
    assert [
        (b.asset_id, b.available, b.held)
        for b in Balance.objects.filter(user=users[0]).order_by("asset_id")
    ] == [
        (b.asset_id, b.available, b.held)
        for b in Balance.objects.filter(user=users[1]).order_by("asset_id")
    ]
    returned = {f: getattr(fast, f) for f in ORDER_FIELDS}
    assert returned == _rows(users[0], fast)[0]
    assert fast.uuid == Order.objects.get(pk=fast.pk).uuid
    assert_ledger()


def test_overdraw_and_missing_balance_write_nothing(btc_usd, assert_ledger):
    user = account_create(username="poor")
    balance_deposit(user=user, asset=btc_usd.quote, amount=100 * USD)
    too_big = OrderRequest(side="buy", type="limit", price=6_300_000, size=10_000)
    with pytest.raises(InsufficientFunds):
        services.order_place(user_id=user.pk, pair=btc_usd, req=too_big)
    # No BTC row at all: a sell has nothing to hold from.
    sell = OrderRequest(side="sell", type="limit", price=6_300_000, size=1)
    with pytest.raises(InsufficientFunds):
        services.order_place(user_id=user.pk, pair=btc_usd, req=sell)
    assert not Order.objects.filter(user=user).exists()
    assert not OrderCommand.objects.exists()
    assert LedgerEntry.objects.filter(user=user).count() == 1  # the deposit
    assert_ledger()


def test_inside_a_transaction_a_failure_leaves_it_usable(btc_usd, assert_ledger):
    user = account_create(username="nested")
    balance_deposit(user=user, asset=btc_usd.quote, amount=100 * USD)
    ok = OrderRequest(side="buy", type="limit", price=6_300_000, size=1)
    too_big = OrderRequest(side="buy", type="limit", price=6_300_000, size=10_000)
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            services.order_place(user_id=user.pk, pair=btc_usd, req=too_big)
        placed = services.order_place(user_id=user.pk, pair=btc_usd, req=ok).order
    assert list(Order.objects.filter(user=user).values_list("pk", flat=True)) == [
        placed.pk
    ]
    assert_ledger()


def test_an_overlong_client_order_id_is_refused_not_truncated(btc_usd):
    """The statement's casts carry no length, so the column's own limit holds
    even for a caller that skipped validation."""
    user = account_create(username="long")
    balance_deposit(user=user, asset=btc_usd.quote, amount=100 * USD)
    req = OrderRequest(
        side="buy", type="limit", price=6_300_000, size=1, client_order_id="x" * 40
    )
    with pytest.raises(Exception, match="too long"):
        services.order_place(user_id=user.pk, pair=btc_usd, req=req)
    assert not Order.objects.filter(user=user).exists()


def _race_behind_a_row_lock(user, pair, req, asset) -> list:
    """Two identical placements queued behind a lock on the balance row they
    hold from, released together: the order they race in is forced."""
    import psycopg

    from apps.matching.locks import pg_conninfo
    from tests.helpers import run_concurrently

    locker = psycopg.connect(pg_conninfo())  # its own thread-free connection
    try:
        locker.execute(
            "SELECT 1 FROM accounts_balance WHERE user_id = %s AND asset_id = %s "
            "FOR UPDATE",
            [user.pk, asset.pk],
        )

        def release_when_both_wait() -> None:
            with psycopg.connect(pg_conninfo(), autocommit=True) as watcher:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    ).fetchone()[0]
                    if waiting >= 2:
                        break
                    time.sleep(0.01)
            locker.rollback()

        releaser = threading.Thread(target=release_when_both_wait)
        releaser.start()
        outcomes = run_concurrently(
            lambda: services.order_place(user_id=user.pk, pair=pair, req=req),
            threads=2,
        )
        releaser.join()
        return outcomes
    finally:
        locker.close()


@pytest.mark.parametrize(
    ("funds", "client_order_id"),
    [
        # The first hold takes all the funds: the second fails its hold
        # (CHECK) before reaching the order's unique constraint.
        (631_260_000, "race-tight"),
        # Plenty of funds, an id quoting a balance constraint's name: the
        # unique violation's message must not pass for an overdraft.
        (10**6 * USD, "balance_available_gte_0"),
    ],
    ids=["funds-for-one", "id-like-a-constraint"],
)
def test_racing_identical_orders_make_one_order_and_one_hold(
    btc_usd, assert_ledger, funds, client_order_id
):
    user = account_create(username="racer")
    balance_deposit(user=user, asset=btc_usd.quote, amount=funds)
    req = OrderRequest(
        side="buy",
        type="limit",
        price=6_300_000,
        size=100,
        client_order_id=client_order_id,
    )
    outcomes = _race_behind_a_row_lock(user, btc_usd, req, btc_usd.quote)
    assert sorted(o.replayed for o in outcomes) == [False, True], outcomes
    assert outcomes[0].order.pk == outcomes[1].order.pk
    assert Order.objects.filter(user=user).count() == 1
    assert LedgerEntry.objects.filter(user=user, reason="hold").count() == 1
    assert OrderCommand.objects.count() == 1
    assert_ledger()
