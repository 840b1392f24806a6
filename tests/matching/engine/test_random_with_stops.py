"""Random streams with stops: invariants after every command, replay gives
identical events, and a rebuild (resting + stops) hashes the same."""

from __future__ import annotations

import random

import pytest

from apps.matching.engine import (
    BookConfig,
    CancelOrder,
    Command,
    Engine,
    Event,
    OrderType,
    PlaceOrder,
    Side,
    StopTriggered,
    Stp,
    TimeInForce,
    Trade,
    buy_limit_hold,
)

CFG = BookConfig(
    quote_per_tick_lot=2, maker_fee_bps=-2, taker_fee_bps=7, price_band_bps=800
)


def _stream(seed: int, n: int) -> list[Command]:
    rng = random.Random(seed)
    cmds: list[Command] = []
    for i in range(n):
        oid = i + 1
        acc = rng.randint(1, 5)
        side = rng.choice([Side.BUY, Side.SELL])
        sign = -1 if side is Side.BUY else 1
        r = rng.random()
        if r < 0.15 and i:
            target = rng.randint(1, i)
            cmds.append(CancelOrder(target, rng.choice([acc, target % 5 + 1]), i))
            continue
        if r < 0.55:
            price = 100 + sign * rng.randint(-2, 10)
            size = rng.randint(1, 10)
            hold = buy_limit_hold(price, size, CFG) if side is Side.BUY else size
            cmds.append(
                PlaceOrder(
                    order_id=oid,
                    account_id=acc,
                    side=side,
                    type=OrderType.LIMIT,
                    price=price,
                    size=size,
                    hold=hold,
                    ts=i,
                    tif=rng.choice([TimeInForce.GTC] * 5 + [TimeInForce.IOC]),
                    stp=rng.choice(list(Stp)),
                )
            )
        elif r < 0.70:
            size = rng.randint(1, 15)
            hold = 5000 if side is Side.BUY else size
            cmds.append(
                PlaceOrder(
                    order_id=oid,
                    account_id=acc,
                    side=side,
                    type=OrderType.MARKET,
                    size=size,
                    hold=hold,
                    ts=i,
                )
            )
        else:
            stop = 100 - sign * rng.randint(-3, 6)  # buy stops above, sell stops below
            size = rng.randint(1, 8)
            limit = rng.random() < 0.5
            price = stop - sign * rng.randint(0, 3) if limit else None
            if side is Side.BUY:
                hold = buy_limit_hold(price, size, CFG) if price else 4000
            else:
                hold = size
            cmds.append(
                PlaceOrder(
                    order_id=oid,
                    account_id=acc,
                    side=side,
                    type=OrderType.STOP_LIMIT if limit else OrderType.STOP,
                    size=size,
                    price=price,
                    stop_price=stop,
                    hold=hold,
                    ts=i,
                )
            )
    return cmds


def _rebuild(e: Engine) -> Engine:
    fresh = Engine(CFG)
    for o in e.resting_orders():
        fresh.restore_resting(**o.restore_kwargs())
    for cmd in e.stop_orders():
        fresh.restore_stop(cmd)
    fresh.set_last_price(e.last_price)
    return fresh


@pytest.mark.parametrize("seed", range(6))
def test_random_stream_with_stops_is_deterministic_and_restorable(seed: int) -> None:
    cmds = _stream(seed, 800)
    e = Engine(CFG)
    events: list[Event] = []
    for i, cmd in enumerate(cmds):
        out = e.process(cmd)
        e.check_invariants()
        assert not any(
            type(x) is Trade and x.maker_account_id == x.taker_account_id for x in out
        )
        events.extend(out)
        if i % 100 == 99:
            fresh = _rebuild(e)
            fresh.check_invariants()
            assert fresh.state_hash() == e.state_hash()
            e = fresh  # continue on the rebuilt engine
    assert any(type(x) is StopTriggered for x in events)
    replay = Engine(CFG)
    again: list[Event] = []
    for cmd in cmds:
        again.extend(replay.process(cmd))
    assert again == events
    assert replay.state_hash() == e.state_hash()
