"""runsimulator against a real exchange: daphne and the matcher as processes
on the test database, the simulator on a fast clock for a bounded time. Then
the books, the trades, the arbitrage, a restart, and the ledger."""

from __future__ import annotations

import io
import logging
import re
import signal
from decimal import Decimal

import httpx
import pytest
from django.core.management import call_command

from apps.accounts.models import Balance
from apps.accounts.selectors import ledger_problems
from apps.markets.services import markets_seed
from apps.orders.models import LIVE_STATUSES, Order, Trade
from tests.markets.test_ws_e2e import exchange
from tests.matching.processes import wait_drained

PAIRS = ("BTC-USD", "ETH-USD", "ETH-BTC")
TICK = {
    "BTC-USD": Decimal("0.01"),
    "ETH-USD": Decimal("0.01"),
    "ETH-BTC": Decimal("0.00001"),
}

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def simulate(base: str, caplog: pytest.LogCaptureFixture, *args: str) -> str:
    """runsimulator, in this process (a real run against the real server,
    without another interpreter's start-up), until its --duration ends and
    its ladders are complete; returns what it logged."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    caplog.clear()
    try:
        with caplog.at_level(logging.INFO, logger="apps.simulator"):
            call_command("runsimulator", "--url", base, *args, stdout=io.StringIO())
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return caplog.text


def book(base: str, pair: str) -> dict:
    return httpx.get(f"{base}/v1/orderbook/{pair}?depth=50", timeout=5).json()


def mid(b: dict) -> Decimal:
    return (Decimal(b["bids"][0][0]) + Decimal(b["asks"][0][0])) / 2


def last_price(base: str, pair: str) -> Decimal | None:
    last = httpx.get(f"{base}/v1/ticker/{pair}", timeout=5).json()["last_price"]
    return None if last is None else Decimal(last)


def test_simulated_market_is_deep_two_sided_trading_consistent_and_restartable(
    tmp_path, caplog
):
    markets_seed()
    with exchange(tmp_path, pairs=None) as (matcher, base):
        # A fast clock: 6 s at 5x, half a simulated minute, then complete
        # ladders (--settle returns once they are). The taker's rate is high
        # so trades surely happen. What takes the time is the server: the
        # ~220 orders the ladders need, at ~10/s on a loaded 2-core machine.
        fast = ["--speed", "5", "--rate", "20", "--taker-rate", "1", "--seed", "1"]
        out = simulate(base, caplog, *fast, "--duration", "6", "--settle", "30")
        assert "BTC-USD starts at 60000 (anchor)" in out, out
        books = {p: book(base, p) for p in PAIRS}
        for pair, b in books.items():
            assert len(b["bids"]) >= 20 and len(b["asks"]) >= 20, (pair, b)
            spread = Decimal(b["asks"][0][0]) - Decimal(b["bids"][0][0])
            assert 0 < spread <= 10 * TICK[pair], (pair, spread)
        # The taker traded every pair: the tickers moved off "no trade yet".
        lasts = {p: last_price(base, p) for p in PAIRS}
        assert None not in lasts.values(), lasts
        assert Trade.objects.filter(pair__symbol="BTC-USD").count() >= 2
        # The arbitrageur left ETH-BTC within a few ticks of the cross.
        implied = mid(books["ETH-USD"]) / mid(books["BTC-USD"])
        gap = abs(mid(books["ETH-BTC"]) - implied) / TICK["ETH-BTC"]
        assert gap <= 8, (gap, implied, books["ETH-BTC"]["bids"][0])
        first_run = Order.objects.order_by("-id").values_list("id", flat=True)[0]

        # A restart continues from the last trade, not from the anchor, and
        # cancels the first run's quotes before quoting again.
        last = lasts["BTC-USD"]
        out = simulate(base, caplog, *fast, "--duration", "1", "--settle", "1")
        start = re.search(r"BTC-USD starts at (\S+) \(last trade\)", out)
        assert start and Decimal(start.group(1)) == last, out
        wait_drained(matcher)
        stale = Order.objects.filter(status__in=LIVE_STATUSES, id__lte=first_run)
        assert not stale.exists()
        assert abs(mid(book(base, "BTC-USD")) / last - 1) < Decimal("0.01")
    assert ledger_problems() == []
    assert not Balance.objects.filter(available__lt=0).exists()
    assert not Balance.objects.filter(held__lt=0).exists()
