"""The real matcher process: ownership, settlement, crash and restart."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from apps.accounts.selectors import ledger_problems
from apps.core.api.formats import unix_ms
from apps.markets.models import MarketEvent, Pair
from apps.matching import engine as eng
from apps.matching.adapter import place_command
from apps.matching.books import PairBook
from apps.orders.cancels import order_cancel
from apps.orders.models import Order, OrderCommand, Trade
from apps.orders.selectors import held_problems
from tests.helpers import place
from tests.matching.processes import start_matcher, stop, wait_drained

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_second_matcher_cannot_take_an_owned_pair(funded, tmp_path):
    first = start_matcher(tmp_path, "--pairs", "BTC-USD")
    try:
        deadline = time.monotonic() + 30
        while "owns BTC-USD" not in (line := first.stdout.readline()):
            assert time.monotonic() < deadline and line, "first matcher did not start"
        second = start_matcher(tmp_path, "--pairs", "BTC-USD")
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 3
        assert "pair BTC-USD is owned by another matcher" in out
        # It names the owning matcher (host:pid), not a database backend.
        assert f":{first.pid}); stop it first" in out
    finally:
        assert stop(first) is not None
    assert first.returncode == 0


def test_matcher_process_settles_orders_placed_through_the_service(
    funded, alice, bob, tmp_path
):
    proc = start_matcher(tmp_path, "--pairs", "BTC-USD")
    try:
        sell = place(alice, funded, side="sell", price="63000", size="0.5")
        buy = place(bob, funded, side="buy", price="63000", size="0.5")
        wait_drained(proc)
        time.sleep(1.2)  # one heartbeat
        out = io.StringIO()
        call_command("matcherstatus", "--json", stdout=out)
        status = {row["pair"]: row for row in json.loads(out.getvalue())}["BTC-USD"]
        assert status["alive"] and status["owner"].endswith(f":{proc.pid}")
        assert (status["queue"], status["last_seq"]) == (0, 3)
    finally:
        stop(proc)
    sell.refresh_from_db()
    buy.refresh_from_db()
    assert (sell.status, buy.status) == ("filled", "filled")
    assert Trade.objects.count() == 1
    assert ledger_problems() == []
    assert held_problems() == []


def _reference_hash(pair: Pair) -> str:
    """A book fed every processed command in order, with no crash."""
    engine = eng.Engine(pair.book_config())
    for cmd in (
        OrderCommand.objects.filter(pair=pair).select_related("order").order_by("id")
    ):
        order = cmd.order
        if cmd.kind == "place":
            if order.reject_reason.startswith("market_"):
                continue
            engine.process(place_command(order, pair))
        else:
            engine.process(
                eng.CancelOrder(order.pk, order.user_id, unix_ms(cmd.created_at))
            )
    return engine.state_hash()


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(
    funded, alice, bob, tmp_path
):
    rng = random.Random(7)
    users = [alice, bob]
    placed: list[Order] = []

    def burst(n: int) -> None:
        for _ in range(n):
            if placed and rng.random() < 0.2:
                order_cancel(order=rng.choice(placed))
                continue
            side = rng.choice(["buy", "sell"])
            price = 63000 + rng.randint(-20, 20) * 5
            size = f"0.{rng.randint(1, 30):04d}"
            placed.append(
                place(rng.choice(users), funded, side=side, price=str(price), size=size)
            )

    proc = start_matcher(tmp_path, "--pairs", "BTC-USD", "--batch-size", "10")
    killed: list[int] = []

    def killer() -> None:
        # Crash the matcher while orders are still streaming in.
        try:
            while OrderCommand.objects.filter(processed_at__isnull=False).count() < 40:
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(
                OrderCommand.objects.filter(processed_at__isnull=False).count()
            )
        finally:
            connection.close()

    thread = threading.Thread(target=killer)
    thread.start()
    burst(300)
    thread.join(timeout=60)
    proc.wait(timeout=10)
    assert killed and proc.returncode == -signal.SIGKILL
    assert OrderCommand.objects.filter(processed_at__isnull=True).exists()
    proc = start_matcher(tmp_path, "--pairs", "BTC-USD")
    try:
        wait_drained(proc)
    finally:
        stop(proc)

    assert not Order.objects.filter(status="pending").exists()
    trades = list(Trade.objects.filter(pair=funded).order_by("seq"))
    assert [t.seq for t in trades] == list(range(1, len(trades) + 1))
    seqs = list(
        MarketEvent.objects.filter(pair=funded)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))
    for order in Order.objects.all():
        mine = [t for t in trades if order.pk in (t.maker_order_id, t.taker_order_id)]
        assert order.filled_size == sum(t.size for t in mine) <= order.size
    assert ledger_problems() == []
    assert held_problems() == []
    rebuilt = PairBook(Pair.objects.select_related("base", "quote").get(pk=funded.pk))
    rebuilt.rebuild()
    assert rebuilt.engine.state_hash() == _reference_hash(funded)
    assert settings.DATABASES  # (the subprocess used the test database)


@pytest.mark.parametrize("redis", ["as_configured", "without_redis"])
def test_order_wait_gets_the_matchers_result_through_the_bus(
    funded, alice, bob, tmp_path, settings, redis, monkeypatch
):
    """The API's bounded wait ends with the matcher's answer: Redis lists when
    REDIS_URL is set, PostgreSQL NOTIFY (or polling on SQLite) without it."""
    from apps.orders.services import order_wait

    if redis == "without_redis":
        settings.REDIS_URL = ""
        monkeypatch.delenv("REDIS_URL", raising=False)
    proc = start_matcher(tmp_path, "--pairs", "BTC-USD")
    try:
        deadline = time.monotonic() + 30
        while "owns BTC-USD" not in (line := proc.stdout.readline()):
            assert time.monotonic() < deadline and line, "matcher did not start"
        place(alice, funded, side="sell", price="63000", size="0.5")
        buy = place(bob, funded, side="buy", price="63000", size="0.5")
        started = time.monotonic()
        buy = order_wait(order=buy, timeout_s=10)
        assert buy.status == "filled"
        assert time.monotonic() - started < 5
    finally:
        stop(proc)
