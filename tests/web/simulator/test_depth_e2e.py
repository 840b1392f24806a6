"""The simulator's books stay deep in steady state (issue 16): at the default
rate, against a real exchange (daphne and the matcher as processes on the
test database), every pair keeps at least 20 levels a side at every sample
after the opening, while the prices move and the taker trades.

``SIM_DEPTH_SECONDS`` (wall seconds of trading, default 90) and
``SIM_DEPTH_SPEED`` (simulated seconds per wall second, default 2) stretch
the run for a measurement; the figures are printed (``pytest -s``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

import httpx
import pytest

from apps.accounts.selectors import ledger_problems
from apps.markets.services import markets_seed
from apps.orders.models import CommandKind, OrderCommand
from apps.web.simulator.runner import Config, Simulator
from apps.web.simulator.setup import agents_seed
from tests.markets.test_ws_e2e import exchange

PAIRS = ("BTC-USD", "ETH-USD", "ETH-BTC")
SAMPLE_EVERY_S = 1.0

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Watched(Simulator):
    """The real simulator, telling the test when its opening is over."""

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.opened = threading.Event()

    def open(self, timeout: float) -> None:
        super().open(timeout)
        self.opened.set()


def levels(base: str, pair: str) -> tuple[int, int]:
    b = httpx.get(f"{base}/v1/orderbook/{pair}?depth=50", timeout=5).json()
    return len(b["bids"]), len(b["asks"])


def test_every_pair_keeps_20_levels_a_side_at_the_default_rate(tmp_path):
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line a request
    seconds = float(os.environ.get("SIM_DEPTH_SECONDS", "90"))
    speed = float(os.environ.get("SIM_DEPTH_SPEED", "2"))
    markets_seed()
    creds = agents_seed(pairs=list(PAIRS))
    with exchange(tmp_path, pairs=None) as (_matcher, base):
        stop = threading.Event()
        sim = Watched(
            Config(
                url=base,
                makers={p: creds[f"maker:{p}"] for p in PAIRS},
                taker=creds["taker"],
                arbitrageur=creds["arbitrageur"],
                speed=speed,  # the default rate (5) and taker rate (0.25)
                seed=1,
                stopping=stop.is_set,
            )
        )
        runner = threading.Thread(target=sim.run, daemon=True)
        runner.start()
        try:
            assert sim.opened.wait(120), "the opening did not end"
            samples: dict[str, list[tuple[int, int]]] = {p: [] for p in PAIRS}
            end = time.monotonic() + seconds
            while time.monotonic() < end and runner.is_alive():
                for pair in PAIRS:
                    samples[pair].append(levels(base, pair))
                time.sleep(SAMPLE_EVERY_S)
        finally:
            stop.set()
            runner.join(60)
        trades = httpx.get(f"{base}/v1/trades/BTC-USD", timeout=5).json()
    lows = {p: (min(b for b, _ in s), min(a for _, a in s)) for p, s in samples.items()}
    print(f"\nmin levels (bids, asks) over {len(samples['BTC-USD'])} samples:", lows)
    assert not runner.is_alive()
    assert all(len(s) >= seconds / SAMPLE_EVERY_S / 2 for s in samples.values())
    assert all(b >= 20 and a >= 20 for b, a in lows.values()), lows
    # The market moved meanwhile: the taker traded, and the makers re-priced
    # by amends, one call a level (cancels only for a side with more
    # orders than it wants).
    assert trades["trades"], trades
    kinds = Counter(OrderCommand.objects.values_list("kind", flat=True))
    print("commands:", dict(kinds))
    assert kinds[CommandKind.AMEND] > max(10 * kinds[CommandKind.CANCEL], 50), kinds
    assert ledger_problems() == []
