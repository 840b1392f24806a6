"""Takeovers between real matcher processes on PostgreSQL: a standby taking
a pair from a matcher that lost its lock, and the standby's all-or-none rule.
"""

from __future__ import annotations

import random
import re
import threading
import time

import pytest
from django.db import connection

from apps.accounts.selectors import ledger_problems
from apps.core.errors import DomainError
from apps.markets.models import MarketEvent, Pair
from apps.matching.books import PairBook
from apps.matching.locks import LOCK_CLASS
from apps.matching.models import PairOwner
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, OrderCommand, Trade
from apps.orders.selectors import held_problems
from tests.factories import AssetFactory, PairFactory
from tests.helpers import place
from tests.matching.processes import start_matcher, stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TAKEOVERS = 8
STANDBY = {"MATCHER_STANDBY_RETRY_MS": "20"}  # take over within ~40 ms


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks on a connection that can die: PostgreSQL")


def lock_holder(pair: Pair) -> int | None:
    """The database backend holding the pair's advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            [LOCK_CLASS, pair.pk],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def epoch(pair: Pair) -> int:
    return (
        PairOwner.objects.filter(pair=pair).values_list("epoch", flat=True).first() or 0
    )


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def read_until(proc, text: str, timeout: float = 30) -> str:
    """Read the process's output until a line contains ``text``."""
    deadline = time.monotonic() + timeout
    seen = ""
    while text not in (line := proc.stdout.readline()):
        seen += line
        assert line and time.monotonic() < deadline, f"no {text!r} in:\n{seen}"
    return line


def start_standby(tmp_path):
    standby = start_matcher(tmp_path, "--pairs", "BTC-USD", "--wait", **STANDBY)
    read_until(standby, "standby: waiting for BTC-USD")
    return standby


class Load(threading.Thread):
    """Places and cancels orders through the order service until stopped."""

    def __init__(self, pair: Pair, users: list) -> None:
        super().__init__()
        self.pair, self.users = pair, users
        self.halt = threading.Event()
        self.placed: list[Order] = []

    def run(self) -> None:
        rng = random.Random(13)
        try:
            while not self.halt.is_set():
                try:
                    if self.placed and rng.random() < 0.35:
                        order_cancel(order=rng.choice(self.placed[-50:]))
                    else:
                        self.placed.append(
                            place(
                                rng.choice(self.users),
                                self.pair,
                                side=rng.choice(["buy", "sell"]),
                                price=str(63000 + rng.randint(-10, 10)),
                                size=f"0.{rng.randint(1, 20):04d}",
                            )
                        )
                except DomainError:
                    pass  # back-pressure or funds: the next one goes through
                time.sleep(0.002)
        finally:
            connection.close()


def test_a_standby_takeover_from_a_matcher_that_lost_its_lock_is_fenced(
    funded, alice, bob, tmp_path
):
    """An owner and a standby under place/cancel load; again and again the
    owner's lock connection is terminated, the standby takes the pair at once
    while the old owner is still running, and a fresh standby is started."""
    owner = start_matcher(tmp_path, "--pairs", "BTC-USD", "--batch-size", "20")
    wait_until(lambda: epoch(funded) == 1, 30, "the first matcher did not start")
    matchers = [owner, start_standby(tmp_path)]
    load = Load(funded, [alice, bob])
    load.start()
    old_outputs: list[str] = []
    try:
        for _ in range(TAKEOVERS):
            time.sleep(1.0)  # the owner settles batches under load
            taken = epoch(funded)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [lock_holder(funded)])
            wait_until(lambda: epoch(funded) == taken + 1, 20, "no takeover")  # noqa: B023
            old, new = matchers
            wait_until(
                lambda: old.poll() is not None,  # noqa: B023
                20,
                "the matcher that lost its lock kept running",
            )
            old_outputs.append(old.stdout.read())
            assert old.returncode == 4, old_outputs[-1]
            matchers = [new, start_standby(tmp_path)]
    finally:
        load.halt.set()
        load.join(30)
    try:
        wait_until(
            lambda: not OrderCommand.objects.filter(processed_at__isnull=True).exists(),
            60,
            "the last owner did not drain the queue",
        )
    finally:
        outputs = [stop(m) for m in matchers]

    # The fence fired: old owners tried to commit after their pair was taken.
    fenced = sum("have a newer owner" in out for out in old_outputs)
    assert fenced >= 1, old_outputs
    # No batch of an owner committed after a newer owner's first batch.
    spans: dict[int, list] = {}
    for e, at in OrderCommand.objects.values_list("epoch", "processed_at"):
        spans.setdefault(e, []).append(at)
    assert sorted(spans) == list(range(1, TAKEOVERS + 2))
    ordered = [(min(spans[e]), max(spans[e])) for e in sorted(spans)]
    for (_, last_of_older), (first_of_newer, _) in zip(
        ordered, ordered[1:], strict=False
    ):
        assert last_of_older <= first_of_newer
    # Every cancel that found nothing to cancel was right.
    assert not OrderCommand.objects.filter(
        kind="cancel",
        result="not_open",
        order__status__in=["open", "partially_filled", "pending"],
    ).exists()
    assert not Order.objects.filter(status="pending").exists()
    assert held_problems() == []
    assert ledger_problems() == []
    trades = Trade.objects.filter(pair=funded).order_by("seq")
    assert list(trades.values_list("seq", flat=True)) == list(
        range(1, trades.count() + 1)
    )
    seqs = list(
        MarketEvent.objects.filter(pair=funded)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    # The last owner's book (and the standby's, if it took over as the owner
    # stopped) equals a rebuild from the database.
    finals = re.findall(r"states BTC-USD=(\w+)", "".join(outputs))
    rebuilt = PairBook(Pair.objects.select_related("base", "quote").get(pk=funded.pk))
    rebuilt.rebuild()
    assert finals and set(finals) == {rebuilt.engine.state_hash()}
    assert len(load.placed) > 200


def test_a_standby_holds_no_lock_while_one_of_its_pairs_is_owned(
    funded, alice, tmp_path
):
    eth = AssetFactory(code="ETH", name="Ether", scale=8)
    PairFactory(symbol="ETH-USD", base=eth, quote=funded.quote)
    eth_owner = start_matcher(tmp_path, "--pairs", "ETH-USD")
    standby = dedicated = None
    try:
        wait_until(
            lambda: epoch(Pair.objects.get(symbol="ETH-USD")) == 1, 30, "no owner"
        )
        standby = start_matcher(tmp_path, "--pairs", "BTC-USD,ETH-USD", "--wait")
        line = read_until(standby, "standby: waiting for")
        # It names the owning matcher by host and process id.
        assert re.search(rf"ETH-USD \(owned by \S+:{eth_owner.pid}\)", line), line
        assert lock_holder(funded) is None  # BTC-USD is free while it waits
        dedicated = start_matcher(tmp_path, "--pairs", "BTC-USD")
        order = place(alice, funded, side="buy", price="60000", size="0.1")
        wait_until(
            lambda: Order.objects.get(pk=order.pk).status == "open",
            30,
            "a dedicated BTC-USD matcher could not run it",
        )
        assert dedicated.poll() is None
        # Once the ETH-USD owner stops, the BTC-USD one still blocks the
        # standby: it takes nothing until it can take everything.
        stop(eth_owner)
        time.sleep(1.5)
        assert standby.poll() is None and epoch(funded) == 1
        stop(dedicated)
        wait_until(lambda: epoch(funded) == 2, 30, "the standby did not take over")
        assert lock_holder(funded) is not None
    finally:
        for proc in (eth_owner, standby, dedicated):
            if proc is not None:
                stop(proc)
