"""Shared test helpers (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

from apps.accounts.models import Balance
from apps.orders.services import order_place
from apps.orders.validation import order_request_from_wire

BTC = 10**8
USD = 10**6
# The quick-start's order as the API takes it: 0.01 BTC at 63,000 USD.
LIMIT_BUY = {
    "pair": "BTC-USD",
    "side": "buy",
    "type": "limit",
    "price": "63000",
    "size": "0.01",
}


def place(user, pair, **wire):
    """Place an order through the real service, as the API does."""
    wire.setdefault("type", "limit")
    req = order_request_from_wire(pair=pair, data=wire)
    return order_place(user_id=user.pk, pair=pair, req=req).order


def bal(user, asset, wallet: str = "spot") -> tuple[int, int]:
    b = Balance.objects.filter(user=user, asset=asset, wallet=wallet).first()
    return (b.available, b.held) if b else (0, 0)


def run_concurrently(fn: Callable[[], Any], threads: int) -> list[Any]:
    """Call ``fn`` from ``threads`` threads released together (each with its
    own database connection, closed after). Returns what each call returned,
    or the exception it raised, in completion order."""
    barrier = threading.Barrier(threads)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(fn())
        except BaseException as exc:  # noqa: BLE001 - the caller inspects it
            outcomes.append(exc)
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return outcomes
