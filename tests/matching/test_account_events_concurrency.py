"""The private events journal under concurrency on PostgreSQL: threads place,
cancel and move funds for the same accounts while a real matcher process
settles; no deadlock, every stream gap-free, and the events' final states
equal the rows."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection

from apps.accounts.models import AccountEvent
from apps.accounts.selectors import ledger_problems
from apps.accounts.services import balance_deposit, balance_transfer
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, Trade
from apps.orders.selectors import held_problems
from apps.orders.wire import order_body
from tests.helpers import (
    USD,
    balance_event_problems,
    journal_problems,
    place,
)
from tests.matching.processes import start_matcher, stop, wait_drained

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks: PostgreSQL"
    ),
]


def test_concurrent_placements_cancels_and_transfers_leave_every_stream_gap_free(
    funded, alice, bob, tmp_path
):
    proc = start_matcher(tmp_path, "--pairs", "BTC-USD")
    errors: list[BaseException] = []
    deadline = time.monotonic() + 8

    def trader(user, seed: int) -> None:
        rng = random.Random(seed)
        mine: list[Order] = []
        try:
            while time.monotonic() < deadline:
                side = rng.choice(("buy", "sell"))
                price = f"{63000 + rng.randint(-10, 10)}"
                mine.append(place(user, funded, side=side, price=price, size="0.01"))
                if mine and rng.random() < 0.4:
                    order = mine.pop(rng.randrange(len(mine)))
                    order.refresh_from_db()
                    order_cancel(order=order)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def mover(user) -> None:
        try:
            while time.monotonic() < deadline:
                balance_transfer(
                    user=user,
                    asset=funded.quote,
                    amount=USD,
                    from_wallet="spot",
                    to_wallet="margin",
                )
                balance_deposit(user=user, asset=funded.quote, amount=USD)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=trader, args=(user, seed))
        for seed, user in enumerate((alice, alice, alice, bob, bob))
    ] + [threading.Thread(target=mover, args=(user,)) for user in (alice, bob)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_drained(proc)
    finally:
        out = stop(proc)
    assert errors == [], errors
    assert "Traceback" not in out, out
    assert Trade.objects.exists()
    assert journal_problems() == []
    assert balance_event_problems() == []
    assert ledger_problems() == []
    assert held_problems() == []
    # Each order's last event is its final row, as REST shows it.
    last: dict[str, dict] = {}
    for payload in (
        AccountEvent.objects.filter(channel="orders")
        .order_by("user_id", "seq")
        .values_list("payload", flat=True)
    ):
        last[payload["id"]] = payload
    orders = Order.objects.select_related("pair__base", "pair__quote")
    assert len(last) == orders.count() > 50
    for order in orders:
        assert last[str(order.uuid)] == order_body(order, order.pair)
    fills = AccountEvent.objects.filter(channel="fills").count()
    assert fills == 2 * Trade.objects.count()
