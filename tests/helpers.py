"""Shared test helpers (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def events_of(user, channel: str) -> list[dict]:
    """The user's private events of ``channel``, oldest first: payloads."""
    from apps.accounts.models import AccountEvent

    return list(
        AccountEvent.objects.filter(user=user, channel=channel)
        .order_by("seq")
        .values_list("payload", flat=True)
    )


def journal_problems() -> list[str]:
    """Every way the private events journal is not gap-free: each stream's
    seqs must run 1..last_seq (nothing pruned here) with last_seq its
    counter, and no system user may have a stream."""
    from apps.accounts.models import Account, AccountEvent, AccountStream

    problems = []
    seqs: dict[tuple[int, str], list[int]] = {}
    for user_id, channel, seq in AccountEvent.objects.order_by(
        "user_id", "channel", "seq"
    ).values_list("user_id", "channel", "seq"):
        seqs.setdefault((user_id, channel), []).append(seq)
    system = set(
        Account.objects.filter(is_system=True).values_list("user_id", flat=True)
    )
    for stream in AccountStream.objects.all():
        key = (stream.user_id, stream.channel)
        found = seqs.pop(key, [])
        if found != list(range(1, stream.last_seq + 1)):
            problems.append(f"{key}: seqs {found[:5]}... != 1..{stream.last_seq}")
        if stream.user_id in system:
            problems.append(f"{key}: a system user's stream")
    problems += [f"{key}: events without a counter" for key in seqs]
    return problems


def balance_event_problems() -> list[str]:
    """Each (non-system) balance row against its last ``balances`` event."""
    from apps.accounts.models import Account, AccountEvent, Balance
    from apps.core.money import format_units

    last: dict[tuple[int, str, str], dict] = {}
    for user_id, payload in (
        AccountEvent.objects.filter(channel="balances")
        .order_by("user_id", "seq")
        .values_list("user_id", "payload")
    ):
        last[(user_id, payload["asset"], payload["wallet"])] = payload
    system = set(
        Account.objects.filter(is_system=True).values_list("user_id", flat=True)
    )
    problems = []
    for b in Balance.objects.select_related("asset"):
        if b.user_id in system:
            continue
        event = last.pop((b.user_id, b.asset.code, b.wallet), None)
        scale = b.asset.scale
        expected = (format_units(b.available, scale), format_units(b.held, scale))
        got = None if event is None else (event["available"], event["held"])
        if got != expected:
            problems.append(f"balance {b}: row {expected}, last event {got}")
    problems += [f"{key}: an event without a balance row" for key in last]
    return problems


@contextmanager
def matcher_running(matcher: Callable[[], int], pause: float = 0.005) -> Iterator[None]:
    """Run the in-process ``matcher`` fixture in a thread (its own database
    connection) until the block ends: requests made meanwhile get the
    matcher's outcome, as with the real process."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                if not matcher():
                    stop.wait(pause)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
