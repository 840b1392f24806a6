"""The simulator's loop: step the price models in simulated time, let the
agents act within each pair's throttle, and survive a server that goes away.

No database and no Django here: everything goes through the API, so the loop
runs against any sandbox deployment given the agents' keys.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from exchange.client import ApiError, ExchangeClient, MarketStream, TradingStream
from exchange.client.ws import ws_url

from .agents import Arbitrageur, Maker, Paused, Taker, Throttle
from .model import PriceParams, PriceProcess, correlated_shock
from .quoting import Grid, LadderShape

log = logging.getLogger("apps.simulator")

# The sandbox pairs' models (docs/sandbox.md, "Simulated market"). ETH-BTC's
# own volatility is small: its price is made by the arbitrageur's trades,
# which the ETH-BTC maker follows.
PARAMS = {
    "BTC-USD": PriceParams(anchor=60_000.0, annual_vol=0.50),
    "ETH-USD": PriceParams(anchor=3_000.0, annual_vol=0.65),
    "ETH-BTC": PriceParams(anchor=0.05, annual_vol=0.10, jump_rate=0.0),
}
# Touch sizes worth about 1,000 USD, levels about 1 bp apart (ETH-BTC's tick
# is 2 bp, so its levels are a tick apart near the touch).
SHAPES = {
    "BTC-USD": LadderShape(base_notional=1_000.0, gap_bps=1.0),
    "ETH-USD": LadderShape(base_notional=1_000.0, gap_bps=1.0),
    "ETH-BTC": LadderShape(base_notional=0.02, gap_bps=1.0),
}
# The smallest usual taker order, in the quote asset (sizes are Pareto above).
TAKER_NOTIONAL = {"BTC-USD": 100.0, "ETH-USD": 100.0, "ETH-BTC": 0.002}
ETH_BTC_CORRELATION = 0.8  # of ETH-USD's shocks with BTC-USD's
STREAM_QUEUE_FRAMES = 10_000
# A maker's actions per turn while it spends its start surplus.
START_TURN_CAP = 6
# The opening's bound: seconds for the makers' first ladders before trading.
OPENING_S = 30.0
MAKER_SHARE = 0.75  # of each pair's rate; the taker and arbitrageur get the rest
LEADER, FOLLOWER, CROSS = "BTC-USD", "ETH-USD", "ETH-BTC"


@dataclass(frozen=True)
class Credentials:
    key: str
    secret: str


@dataclass
class Config:
    url: str
    makers: dict[str, Credentials]  # pair -> the pair's maker's key
    taker: Credentials
    arbitrageur: Credentials
    rate: float = 5.0  # API calls (orders, amends, cancels) per wall second per pair
    speed: float = 1.0  # simulated seconds per wall second
    taker_rate: float = 0.25  # taker orders per simulated second per pair
    arb_threshold_ticks: int = 2
    seed: int | None = None
    duration: float | None = None  # wall seconds; None: until stopped
    settle_s: float = 10.0  # after ``duration``: at most this to complete ladders
    tick_s: float = 0.2  # the loop's period
    status_every_s: float = 60.0
    stopping: Callable[[], bool] = field(default=lambda: False)


class Simulator:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        # Each maker's first ladder (both sides) at once, then the steady rate.
        self.throttles = {
            p: Throttle(
                cfg.rate * MAKER_SHARE,
                initial=2 * SHAPES.get(p, LadderShape()).levels,
            )
            for p in cfg.makers
        }
        self.others = {p: Throttle(cfg.rate * (1 - MAKER_SHARE)) for p in cfg.makers}
        self.processes: dict[str, PriceProcess] = {}
        self.makers: dict[str, Maker] = {}
        self.taker: Taker | None = None
        self.arb: Arbitrageur | None = None
        self.clients: list[Any] = []
        self.sim_clock = 0.0  # simulated seconds not yet stepped
        self.pool = ThreadPoolExecutor(len(cfg.makers) + 1, "simulator")
        self.paused_until = 0.0

    # -- sessions ------------------------------------------------------------

    def connect(self) -> None:
        """Open clients and streams, continue each model from its pair's last
        trade, and cancel the agents' leftover orders."""
        cfg = self.cfg
        public = self.client(None)
        markets = {m["symbol"]: m for m in public.markets()["markets"]}
        grids = {p: Grid.from_market(markets[p]) for p in cfg.makers}
        for pair in cfg.makers:
            if pair not in self.processes:
                start, source = self.start_price(public, pair)
                self.processes[pair] = PriceProcess(
                    PARAMS[pair], start=start, rng=self.rng
                )
                log.info("%s starts at %s (%s)", pair, f"{start:.10g}", source)
        for pair, cred in cfg.makers.items():
            maker = Maker(
                pair,
                self.client(cred),
                self.stream(TradingStream, cred),
                grids[pair],
                self.processes[pair],
                self.rng,
                shape=SHAPES.get(pair, LadderShape()),
                follow_fills=pair == CROSS,
            )
            old = self.makers.get(pair)
            if old is not None:
                maker.half_spread, maker.depth = old.half_spread, old.depth
            maker.start()
            self.makers[pair] = maker
        inventory = self.taker.inventory if self.taker else {}
        self.taker = Taker(
            self.client(cfg.taker), grids, self.rng, cfg.taker_rate, inventory=inventory
        )
        if CROSS in cfg.makers and {LEADER, FOLLOWER} <= set(cfg.makers):
            self.arb = Arbitrageur(
                self.client(cfg.arbitrageur),
                self.stream(MarketStream, None),
                grids[CROSS],
                cfg.arb_threshold_ticks,
            )
            self.arb.start()

    def start_price(self, public: ExchangeClient, pair: str) -> tuple[float, str]:
        """The pair's last trade: a restarted simulator continues where the
        market is, not from a seed value. The anchor only for a new market
        (or one whose implied cross is known, for ETH-BTC)."""
        last = public.ticker(pair).get("last_price")
        if last is not None:
            return float(Decimal(str(last))), "last trade"
        if pair == CROSS and LEADER in self.processes and FOLLOWER in self.processes:
            cross = self.processes[FOLLOWER].price / self.processes[LEADER].price
            return cross, "cross of the other pairs"
        return PARAMS[pair].anchor, "anchor"

    def client(self, cred: Credentials | None) -> ExchangeClient:
        c = ExchangeClient(
            self.cfg.url,
            cred.key if cred else None,
            cred.secret if cred else None,
            timeout=10,
            max_retries=1,
        )
        self.clients.append(c)
        return c

    def stream(self, kind: Any, cred: Credentials | None) -> Any:
        # The agents read their streams between REST calls, one thread for
        # all; websockets' default queue of 16 frames would fill meanwhile,
        # stop its reader, and so its answers to the server's pings.
        connection = connect(
            ws_url(self.cfg.url),
            proxy=None,
            open_timeout=10,
            close_timeout=2,
            max_size=2**24,
            max_queue=STREAM_QUEUE_FRAMES,
        )
        auth = {} if cred is None else {"key": cred.key, "secret": cred.secret}
        s = kind(self.cfg.url, timeout=10, connection=connection, **auth)
        self.clients.append(s)
        return s

    def disconnect(self) -> None:
        for c in self.clients:
            try:
                c.close()
            except Exception:  # a dead socket closes badly; it is gone anyway
                pass
        self.clients.clear()

    # -- the loop --------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped (or ``duration``), reconnecting after errors."""
        cfg = self.cfg
        delay = 0.5
        connected = False
        self.wait_for_server(None)
        deadline = None  # ``duration`` counts from the end of the opening
        opened = False

        while not cfg.stopping():
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                if not connected:
                    self.connect()
                    connected, delay = True, 0.5
                    log.info("simulator connected to %s", cfg.url)
                if not opened:
                    opened = True  # once: a reconnect has no start surplus
                    self.open(OPENING_S)
                if deadline is None and cfg.duration is not None:
                    deadline = time.monotonic() + cfg.duration
                self.loop(deadline)
            except Paused as exc:
                log.info("server asked to slow down; pausing %g s", exc.seconds)
                self.paused_until = time.monotonic() + exc.seconds
            except (ApiError, ConnectionClosed, OSError, TimeoutError) as exc:
                log.warning("simulator lost the server (%s); retry in %g s", exc, delay)
                self.disconnect()
                connected = False
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        if connected and deadline is not None:
            self.settle(self.cfg.settle_s)
        self.disconnect()
        self.pool.shutdown()

    def wait_for_server(self, deadline: float | None) -> None:
        """Quietly wait for the API to answer (runexchange starts us with
        daphne), for at most a minute; errors after that are logged."""
        end = time.monotonic() + 60
        probe = ExchangeClient(self.cfg.url, timeout=2, max_retries=0)
        try:
            while not self.cfg.stopping() and time.monotonic() < end:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                try:
                    probe.time()
                    return
                except ApiError:
                    time.sleep(0.3)
        finally:
            probe.close()

    def loop(self, deadline: float | None) -> None:
        last = time.monotonic()
        next_status = last + self.cfg.status_every_s
        while not self.cfg.stopping():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if now < self.paused_until:
                time.sleep(min(self.cfg.tick_s, self.paused_until - now))
                last = time.monotonic()
                continue
            self.tick(min(now - last, 5.0) * self.cfg.speed)
            last = now
            if now >= next_status:
                self.status()
                next_status = now + self.cfg.status_every_s
            time.sleep(max(0.0, self.cfg.tick_s - (time.monotonic() - now)))

    def tick(self, sim_seconds: float) -> None:
        self.sim_clock += sim_seconds
        steps = int(self.sim_clock)
        self.sim_clock -= steps
        self.step_models(steps)
        self.turn(lambda: self.trade(sim_seconds))

    def trade(self, sim_seconds: float) -> None:
        """The taker's orders due in ``sim_seconds``, then the arbitrageur."""
        assert self.taker is not None
        for pair in self.makers:
            typical = TAKER_NOTIONAL[pair] / self.processes[pair].price
            for _ in range(self.taker.orders_due(sim_seconds)):
                self.taker.trade(pair, self.others[pair], typical=typical)
        self.arbitrage()

    def arbitrage(self) -> None:
        if self.arb is not None:
            self.arb.act(self.others[CROSS])

    def turn(self, others: Callable[[], None]) -> int:
        """One turn of every agent, side by side: each maker (its own client
        and stream) and ``others`` (the taker and the arbitrageur) in its own
        thread. A call mostly waits for the server, so agents in turn would
        spend one round trip each where side by side they spend one in all;
        and each maker's turn has a budget (``Maker.requote``), so a turn is a
        few calls long and no agent waits for another's whole plan. Only the
        main thread steps the models, so the seeded draws stay in order.
        Returns the makers' actions still to do."""

        def maker_turn(pair: str) -> int:
            maker, throttle = self.makers[pair], self.throttles[pair]
            maker.on_stream()
            # The turn's cap: a tick's worth; while the start's surplus
            # lasts, a few more, so the first ladder goes out within seconds
            # and a turn stays short enough for the taker to trade beside it.
            budget = max(1, math.ceil(throttle.rate * self.cfg.tick_s))
            budget = max(budget, min(START_TURN_CAP, int(throttle.tokens)))
            maker.requote(throttle, budget)
            return maker.plan_size()

        jobs = [self.pool.submit(maker_turn, pair) for pair in self.makers]
        rest = self.pool.submit(others)
        wait([*jobs, rest])  # all done before any error is raised
        rest.result()
        return sum(job.result() for job in jobs)

    def step_models(self, steps: int) -> None:
        for _ in range(steps):
            shocks: dict[str, float] = {}
            if LEADER in self.makers:
                self.makers[LEADER].step_model(1)
                shocks[LEADER] = self.processes[LEADER].last_shock
            if FOLLOWER in self.makers:
                z = shocks.get(LEADER)
                shock = (
                    None
                    if z is None
                    else correlated_shock(self.rng, z, ETH_BTC_CORRELATION)
                )
                self.makers[FOLLOWER].step_model(1, None if shock is None else [shock])
            for pair, maker in self.makers.items():
                if pair not in (LEADER, FOLLOWER):
                    maker.step_model(1)

    def open(self, timeout: float) -> None:
        """The opening: the makers post their first ladders (the throttles'
        start surplus) while the models stand still and the taker waits, so
        every pair shows its whole ladder at once however slow the server.
        Were the prices to move meanwhile, a loaded server's slow burst would
        spend the surplus re-pricing inner levels, and some pair's outer
        levels would wait for the steady rate. Trading starts when the
        ladders are up, or after ``timeout`` seconds."""
        started = time.monotonic()
        self.quote_until_complete(lambda: None, timeout, stop=self.cfg.stopping)
        log.info("market open after %.1f s", time.monotonic() - started)

    def settle(self, timeout: float = 10.0) -> None:
        """Finish the current re-pricing (a bounded run ends with complete
        ladders), still within the throttle."""
        try:
            self.quote_until_complete(self.arbitrage, timeout)
        except (Paused, ApiError, ConnectionClosed, OSError, TimeoutError) as exc:
            log.warning("simulator could not settle its quotes: %s", exc)

    def quote_until_complete(
        self,
        others: Callable[[], None],
        timeout: float,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """Turns (the makers and ``others``) without stepping the models,
        until every maker's plan is done, ``timeout`` seconds have passed or
        ``stop()``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not stop():
            began = time.monotonic()
            if not self.turn(others):
                return
            time.sleep(max(0.0, self.cfg.tick_s - (time.monotonic() - began)))

    def status(self) -> None:
        for pair, maker in self.makers.items():
            log.info(
                "%s reference %s, %d resting quotes, %d calls behind",
                pair,
                f"{maker.process.price:.8g}",
                len(maker.orders),
                maker.plan_size(),
            )
