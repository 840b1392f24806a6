"""The simulated traders: ordinary API clients (``exchange.client``), signed
and rate-limited like any bot. No database access here.

- ``Maker``: one per pair; keeps a layered ladder around its reference price
  (``quoting.ladder``), re-priced by amending only the orders that must move
  (``quoting.plan``: one call a level, the level never empty meanwhile);
  follows its orders and fills on the private
  ``orders`` and ``fills`` WebSocket channels.
- ``Taker``: market orders of heavy-tailed sizes on every pair, buying or
  selling at random, leaning against its own inventory.
- ``Arbitrageur``: keeps ETH-BTC in line with ETH-USD / BTC-USD by trading the
  ETH-BTC book (IOC limits) when its touch is off the cross of the other two
  books' mids by more than a few ticks. It reads the books from the public
  ``book`` WebSocket channel.

Every order, amend and cancel costs a token of one of the pair's two ``Throttle``s
(the simulator's bounded load: the makers get ``MAKER_SHARE`` of the pair's
rate, the taker and the arbitrageur the rest, so a maker re-pricing a whole
ladder cannot starve them); an answer 429 or ``SYSTEM_OVERLOADED`` pauses all
agents for the server's ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from exchange.client import ApiError, ExchangeClient, MarketStream, TradingStream

from .model import DEPTH_FACTOR, SPREAD_TICKS, PriceProcess, pareto_size
from .quoting import (
    BUY,
    SELL,
    Amend,
    Grid,
    LadderShape,
    Quote,
    Resting,
    ladder,
    plan,
)

log = logging.getLogger("apps.simulator")

LIVE = frozenset({"pending", "open", "partially_filled"})
# Errors that say "slow down": the whole simulator pauses, then carries on.
BACKOFF_CODES = frozenset({"RATE_LIMIT_EXCEEDED", "SYSTEM_OVERLOADED"})
# The taker's largest order, in multiples of its pair's usual minimum.
TAKER_CAP = 50
# An amend's answers that say the order is no longer on the book.
GONE_CODES = frozenset(
    {"ORDER_ALREADY_FILLED", "ORDER_ALREADY_CANCELLED", "ORDER_NOT_FOUND"}
)


class Paused(Exception):
    """The server asked us to slow down (429 / 503 SYSTEM_OVERLOADED)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused {seconds:g} s")
        self.seconds = seconds


class Throttle:
    """A token bucket: ``rate`` actions per wall second, bursts up to
    ``burst_s`` seconds' worth (a short burst: a slow server must not make the
    loop spend a whole tick on one agent). ``initial`` tokens to start with,
    if more: a maker's first ladder goes out at once, so a fresh sandbox has
    deep books within seconds, and the steady rate stays bounded after it.
    ``clock`` comes in for tests."""

    def __init__(
        self,
        rate: float,
        burst_s: float = 0.5,
        clock: Any = time.monotonic,
        initial: float = 0.0,
    ):
        self.rate = rate
        self.capacity = max(1.0, rate * burst_s)
        self.tokens = max(self.capacity, initial)
        self.clock = clock
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        refilled = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.tokens = max(self.tokens, refilled)  # a start surplus is spent, not cut
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one API call; turn "slow down" answers into ``Paused``."""
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        if exc.status == 429 or exc.code in BACKOFF_CODES:
            retry = exc.details.get("retry_after") if exc.details else None
            raise Paused(float(retry or 1)) from exc
        raise


def drain(stream: MarketStream) -> list[dict[str, Any]]:
    """Every stream message that has arrived, without waiting."""
    out = []
    while True:
        try:
            out.append(stream.recv(timeout=0))
        except TimeoutError:
            return out


@dataclass
class Maker:
    pair: str
    client: ExchangeClient
    stream: TradingStream
    grid: Grid
    process: PriceProcess
    rng: random.Random
    shape: LadderShape = field(default_factory=LadderShape)
    follow_fills: bool = False  # ETH-BTC: the fills teach the maker the price
    orders: dict[str, Resting] = field(default_factory=dict)
    half_spread: float = SPREAD_TICKS.mean
    depth: float = DEPTH_FACTOR.mean

    def start(self) -> None:
        """Cancel whatever this maker left resting (a previous run's quotes)."""
        call(self.client.cancel_all, pair=self.pair)
        self.orders.clear()
        self.stream.subscribe_private("orders")
        self.stream.subscribe_private("fills")

    def step_model(self, seconds: int, shocks: list[float] | None = None) -> None:
        for i in range(seconds):
            self.process.step(None if shocks is None else shocks[i])
            self.half_spread = SPREAD_TICKS.step(self.half_spread, self.rng)
            self.depth = DEPTH_FACTOR.step(self.depth, self.rng)

    def on_stream(self) -> None:
        for msg in drain(self.stream):
            data = msg.get("data") or {}
            if data.get("pair") != self.pair:
                continue
            if msg.get("type") == "fill" and self.follow_fills:
                self.process.nudge(float(Decimal(str(data["price"]))))
            elif msg.get("type") == "order" and data.get("id") in self.orders:
                self.update(data)

    def update(self, order: dict[str, Any]) -> None:
        oid = str(order["id"])
        if order["status"] not in LIVE:
            self.orders.pop(oid, None)
            return
        remaining = self.grid.parse_size(str(order["remaining_size"]))
        filled = self.grid.parse_size(str(order["filled_size"]))
        price = self.grid.parse_price(str(order["price"]))
        self.orders[oid] = Resting(oid, order["side"], price, remaining, filled)

    def wanted(self) -> list[Any]:
        return ladder(
            self.grid,
            reference=self.process.price,
            half_spread_ticks=self.half_spread,
            depth=self.depth,
            shape=self.shape,
        )

    def requote(self, throttle: Throttle, budget: int | None = None) -> int:
        """Carry out as much of the re-pricing plan as the throttle allows,
        and at most ``budget`` actions (one turn of the loop); returns how
        many actions are left for later.

        The budget matters when the server is slower than the throttle: a
        token comes back during every call, so the throttle alone would let
        one maker work through a whole new ladder (dozens of calls, tens of
        seconds) while the taker and the arbitrageur wait for their turn."""
        actions = plan(self.wanted(), list(self.orders.values())).actions()
        for n, action in enumerate(actions):
            if (budget is not None and n >= budget) or not throttle.take():
                return len(actions) - n
            if isinstance(action, Amend):
                self.amend(action)
            elif isinstance(action, Quote):
                self.place(action)
            else:
                self.cancel(action)
        return 0

    def place(self, quote: Any) -> None:
        try:
            order = call(
                self.client.place_order,
                pair=self.pair,
                side=quote.side,
                type="limit",
                price=self.grid.price_str(quote.price),
                size=self.grid.size_str(quote.size),
                post_only=True,
            )
        except ApiError as exc:
            if exc.status == 0:
                raise
            # post-only would take (the book moved under us), or funds: skip
            # this level this round; the next plan tries again.
            log.debug("%s maker: %s", self.pair, exc.code)
            return
        if order["status"] in LIVE:
            self.update(order)

    def amend(self, amend: Amend) -> None:
        """Move a resting order to a new quote: one call, and its level is
        never empty between a cancel and a place. Post-only holds (the
        server keeps the order's flag), so an amend that would take is
        refused and the order stays as it was."""
        try:
            order = call(
                self.client.amend_order,
                amend.order_id,
                price=self.grid.price_str(amend.quote.price),
                size=self.grid.size_str(amend.size),
            )
        except ApiError as exc:
            if exc.status == 0:
                raise
            if exc.code in GONE_CODES:
                self.orders.pop(amend.order_id, None)
            # Would take, funds, an amend still queued: the order stays as
            # it was this round; the next plan tries again.
            log.debug("%s maker amend: %s", self.pair, exc.code)
            return
        self.update(order)

    def cancel(self, order_id: str) -> None:
        self.orders.pop(order_id, None)
        try:
            call(self.client.cancel_order, order_id)
        except ApiError as exc:
            if exc.status == 0:
                raise
            # Already filled or cancelled: it is gone either way.

    def complete(self) -> bool:
        return not self.plan_size()

    def plan_size(self) -> int:
        return len(plan(self.wanted(), list(self.orders.values())))


@dataclass
class Taker:
    client: ExchangeClient
    grids: dict[str, Grid]
    rng: random.Random
    rate: float  # orders per simulated second per pair
    inventory: dict[str, int] = field(default_factory=dict)  # lots, per pair

    def orders_due(self, seconds: float) -> int:
        """A Poisson count of orders for ``seconds`` of simulated time."""
        lam, n, p = self.rate * seconds, 0, self.rng.random()
        threshold = math.exp(-min(lam, 50.0))
        while p > threshold:
            p *= self.rng.random()
            n += 1
        return n

    def trade(self, pair: str, throttle: Throttle, *, typical: float) -> None:
        """One market order; ``typical`` is the smallest usual size in base
        units (the Pareto minimum), capped at ``TAKER_CAP`` times it."""
        if not throttle.take():
            return
        grid = self.grids[pair]
        minimum = max(math.ceil(grid.min_size / grid.lot), grid.lots(typical))
        lots = int(
            min(pareto_size(self.rng, minimum=float(minimum)), minimum * TAKER_CAP)
        )
        # Lean against inventory so the taker (and the makers, its mirror)
        # do not drift away for ever.
        lean = math.tanh(self.inventory.get(pair, 0) / (minimum * 100))
        side = BUY if self.rng.random() < 0.5 - 0.4 * lean else SELL
        try:
            order = call(
                self.client.place_order,
                pair=pair,
                side=side,
                type="market",
                size=grid.size_str(lots),
            )
        except ApiError as exc:
            if exc.status == 0:
                raise
            log.debug("%s taker: %s", pair, exc.code)
            return
        log.debug("%s taker %s %s: %s", pair, side, lots, order["status"])
        filled = grid.parse_size(str(order.get("filled_size") or "0"))
        sign = 1 if side == BUY else -1
        self.inventory[pair] = self.inventory.get(pair, 0) + sign * filled


@dataclass
class Arbitrageur:
    """Trades ETH-BTC against the cross of ETH-USD and BTC-USD."""

    client: ExchangeClient
    stream: MarketStream
    grid: Grid  # ETH-BTC's
    threshold_ticks: int = 2
    max_lots_factor: float = 200.0
    cross: str = "ETH-BTC"
    legs: tuple[str, str] = ("ETH-USD", "BTC-USD")

    def start(self) -> None:
        call(self.client.cancel_all, pair=self.cross)
        for pair in (self.cross, *self.legs):
            self.stream.subscribe_book(pair, depth=25)

    def implied(self) -> Decimal | None:
        """ETH-BTC's fair price from the two other books' mids."""
        mids = []
        for pair in self.legs:
            book = self.stream.books.get(pair)
            if book is None or not book.in_sync:
                return None
            bids, asks = book.bids(1), book.asks(1)
            if not bids or not asks:
                return None
            mids.append((Decimal(str(bids[0][0])) + Decimal(str(asks[0][0]))) / 2)
        return mids[0] / mids[1]

    def act(self, throttle: Throttle) -> None:
        drain(self.stream)
        fair = self.implied()
        book = self.stream.books.get(self.cross)
        if fair is None or book is None or not book.in_sync:
            return
        tick = self.grid.tick
        buy_below = (fair / tick).to_integral_value(ROUND_FLOOR) - self.threshold_ticks
        sell_above = (fair / tick).to_integral_value(
            ROUND_CEILING
        ) + self.threshold_ticks
        asks = [(self.grid.parse_price(str(p)), s) for p, s in book.asks()]
        bids = [(self.grid.parse_price(str(p)), s) for p, s in book.bids()]
        cheap = [self.grid.parse_size(str(s)) for p, s in asks if p < buy_below]
        rich = [self.grid.parse_size(str(s)) for p, s in bids if p > sell_above]
        if cheap and throttle.take():
            self.take(BUY, int(buy_below), sum(cheap))
        elif rich and throttle.take():
            self.take(SELL, int(sell_above), sum(rich))

    def take(self, side: str, price: int, lots: int) -> None:
        minimum = math.ceil(self.grid.min_size / self.grid.lot)
        lots = min(lots, int(minimum * self.max_lots_factor))
        try:
            call(
                self.client.place_order,
                pair=self.cross,
                side=side,
                type="limit",
                price=self.grid.price_str(price),
                size=self.grid.size_str(lots),
                time_in_force="IOC",
            )
        except ApiError as exc:
            if exc.status == 0:
                raise
            log.debug("arbitrageur: %s", exc.code)
