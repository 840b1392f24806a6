"""Random streams with amends: invariants after every command, every unit
of every hold accounted for (held = spent + released + still held), and a
rebuild from the resting orders hashes the same."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from apps.matching.engine import (
    Amended,
    AmendOrder,
    AmendRejected,
    BookConfig,
    CancelOrder,
    Command,
    Done,
    Engine,
    Event,
    OrderType,
    PlaceOrder,
    Side,
    Stp,
    TimeInForce,
    Trade,
    buy_limit_hold,
)
from apps.matching.engine.fees import buy_amend_hold

CFG = BookConfig(
    quote_per_tick_lot=3, maker_fee_bps=4, taker_fee_bps=9, price_band_bps=800
)


def _amend(engine: Engine, rng: random.Random, i: int) -> AmendOrder:
    """An amend of a random resting order (or an unknown id), holding the
    API's bound, or sometimes nothing (the engine must refuse what the hold
    does not cover)."""
    resting = engine.resting_orders()
    if not resting or rng.random() < 0.1:
        return AmendOrder(order_id=10**6 + i, account_id=1, price=100, size=1, ts=i)
    o = rng.choice(resting)
    is_buy = o.side is Side.BUY
    price = max(1, o.price + rng.randint(-4, 4))
    size = o.filled_size + max(rng.randint(-2, 8), 0)
    remaining = size - o.filled_size
    if is_buy:
        need = buy_amend_hold(
            o.taker_quote + o.maker_quote,
            price,
            max(remaining, 0),
            o.price,
            o.remaining_size,
            CFG,
        )
    else:
        need = size
    hold_add = 0 if rng.random() < 0.1 else max(need - o.hold, 0)
    return AmendOrder(
        order_id=o.order_id,
        account_id=o.account_id,
        price=price,
        size=size,
        hold_add=hold_add,
        post_only=rng.random() < 0.2,
        ts=i,
    )


def _command(engine: Engine, rng: random.Random, i: int) -> Command:
    acc = rng.randint(1, 4)
    side = rng.choice([Side.BUY, Side.SELL])
    sign = -1 if side is Side.BUY else 1
    r = rng.random()
    if r < 0.3:
        return _amend(engine, rng, i)
    if r < 0.4 and i:
        return CancelOrder(rng.randint(1, i), acc, i)
    if r < 0.5:
        size = rng.randint(1, 12)
        return PlaceOrder(
            order_id=i + 1,
            account_id=acc,
            side=side,
            type=OrderType.MARKET,
            size=size,
            hold=9000 if side is Side.BUY else size,
            ts=i,
        )
    price = 100 + sign * rng.randint(-2, 8)
    size = rng.randint(1, 10)
    return PlaceOrder(
        order_id=i + 1,
        account_id=acc,
        side=side,
        type=OrderType.LIMIT,
        price=price,
        size=size,
        hold=buy_limit_hold(price, size, CFG) if side is Side.BUY else size,
        ts=i,
        tif=rng.choice([TimeInForce.GTC] * 6 + [TimeInForce.IOC]),
        post_only=rng.random() < 0.1,
        stp=rng.choice(list(Stp)),
    )


class Accounts:
    """Per order: what was held for it, spent by its fills, released."""

    def __init__(self) -> None:
        self.held: dict[int, int] = defaultdict(int)
        self.out: dict[int, int] = defaultdict(int)
        self.buys: set[int] = set()

    def command(self, cmd: Command) -> None:
        if type(cmd) is PlaceOrder:
            self.held[cmd.order_id] += cmd.hold
            if cmd.side is Side.BUY:
                self.buys.add(cmd.order_id)
        elif type(cmd) is AmendOrder:
            self.held[cmd.order_id] += cmd.hold_add

    def event(self, ev: Event) -> None:
        if type(ev) is Trade:
            for oid, fee in (
                (ev.maker_order_id, ev.maker_fee),
                (ev.taker_order_id, ev.taker_fee),
            ):
                self.out[oid] += ev.quote + fee if oid in self.buys else ev.size
        elif type(ev) in (Done, Amended, AmendRejected):
            self.out[ev.order_id] += ev.released  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(12))
def test_random_stream_with_amends_accounts_for_every_held_unit(seed: int) -> None:
    rng = random.Random(seed)
    engine = Engine(CFG)
    books = Accounts()
    kinds: set[str] = set()
    for i in range(600):
        cmd = _command(engine, rng, i)
        books.command(cmd)
        for ev in engine.process(cmd):
            books.event(ev)
            if type(ev) is Amended:
                kinds.add(f"amended:{ev.requeued}")
            elif type(ev) is AmendRejected:
                kinds.add(str(ev.reason))
        engine.check_invariants()
    resting = {o.order_id: o for o in engine.resting_orders()}
    for oid, held in books.held.items():
        left = resting[oid].hold - resting[oid].spent if oid in resting else 0
        assert held == books.out[oid] + left, oid
    assert {"amended:True", "amended:False", "order_not_found"} <= kinds, kinds
    rebuilt = Engine(CFG)
    for o in resting.values():
        rebuilt.restore_resting(**o.restore_kwargs())
    rebuilt.set_last_price(engine.last_price)
    assert rebuilt.state_hash() == engine.state_hash()
