"""A market worth looking at for the browser tests and their screenshots:
the sandbox pairs, two funded traders, a price history of trades and a
resting book on each pair, made through the real order service and matcher.

The one shortcut: the history's trades are re-stamped over the past hours
(``created_at`` only) after the matcher made them, so that the candle chart
and the 24-hour ticker have a history to show. A test-data move, like a
factory's; nothing on a money path reads a trade's time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.accounts.services import balance_deposit
from apps.markets.models import Pair
from apps.markets.services import markets_seed
from apps.orders.models import Trade
from tests.factories import UserFactory
from tests.helpers import place
from tests.matching.processes import wait_drained


@dataclass(frozen=True)
class Scenery:
    """How a pair's market is drawn: its prices in ticks, sizes in lots."""

    symbol: str
    start_ticks: int  # the first traded price
    step_ticks: int  # the random walk's largest move per trade
    trades: int
    lots: tuple[int, int]  # a trade's size range
    ladder_gap_ticks: int  # between resting levels
    spacing_s: int  # between two trades of the history


SCENERY = (
    Scenery("BTC-USD", 6_300_000, 1_500, 150, (10, 400), 400, 20),
    Scenery("ETH-USD", 310_000, 300, 24, (100, 4_000), 60, 600),
    Scenery("ETH-BTC", 4_920, 4, 24, (10, 400), 1, 600),
)


def traders() -> tuple[Any, Any]:
    """Two users holding plenty of every sandbox asset."""
    pairs = markets_seed()
    assets = {p.base for p in pairs} | {p.quote for p in pairs}
    users = (UserFactory(username="maker"), UserFactory(username="taker"))
    for user in users:
        for asset in assets:
            balance_deposit(user=user, asset=asset, amount=10**6 * 10**asset.scale)
    return users


def _price(pair: Pair, ticks: int) -> str:
    return pair.format_price(ticks)


def _size(pair: Pair, lots: int) -> str:
    return pair.format_size(lots)


def history(pair: Pair, scene: Scenery, maker: Any, taker: Any, rng: random.Random):
    """``scene.trades`` trades on a random walk of prices: for each, the
    maker rests an order and the taker takes it at once (buying or selling
    at random). Returns the walk's last price in ticks."""
    ticks = scene.start_ticks
    for _ in range(scene.trades):
        ticks += rng.randint(-scene.step_ticks, scene.step_ticks)
        size = _size(pair, rng.randint(*scene.lots))
        taker_side = rng.choice(("buy", "sell"))
        maker_side = "sell" if taker_side == "buy" else "buy"
        price = _price(pair, ticks)
        place(maker, pair, side=maker_side, price=price, size=size)
        place(taker, pair, side=taker_side, price=price, size=size)
    return ticks


def ladder(pair: Pair, scene: Scenery, maker: Any, mid: int, rng: random.Random):
    """Sixteen resting levels a side around ``mid``, larger further out."""
    for k in range(1, 17):
        for side, sign in (("buy", -1), ("sell", 1)):
            lots = rng.randint(*scene.lots) * (1 + k // 4)
            price = mid + sign * k * scene.ladder_gap_ticks
            place(
                maker,
                pair,
                side=side,
                price=_price(pair, price),
                size=_size(pair, lots),
            )


def restamp(pair: Pair, spacing_s: int) -> None:
    """Spread the pair's trades over the past, ``spacing_s`` apart, in
    trade sequence order (the last one half a minute ago)."""
    now = timezone.now()
    seqs = list(
        Trade.objects.filter(pair=pair).order_by("seq").values_list("pk", flat=True)
    )
    for age, pk in enumerate(reversed(seqs)):
        when = now - timedelta(seconds=30 + spacing_s * age)
        Trade.objects.filter(pk=pk).update(created_at=when)


def build_markets(matcher: Any, maker: Any, taker: Any, seed: int = 17) -> None:
    """Every sandbox pair with a history and a book: call ``traders()``
    first, then start the exchange (its matcher takes the pairs that exist),
    then this."""
    rng = random.Random(seed)
    pairs = {p.symbol: p for p in Pair.objects.select_related("base", "quote")}
    for scene in SCENERY:
        pair = pairs[scene.symbol]
        last = history(pair, scene, maker, taker, rng)
        wait_drained(matcher)
        restamp(pair, scene.spacing_s)
        ladder(pair, scene, maker, last, rng)
    wait_drained(matcher)
