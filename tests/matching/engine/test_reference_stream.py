"""Long seeded streams through the reference machine: deeper books than
Hypothesis usually builds, same checks after every command."""

from __future__ import annotations

import random

import pytest

from apps.matching.engine import Side, Stp, TimeInForce

from .test_reference_machine import EngineVsReference


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_seeded_stream_matches_reference(seed: int) -> None:
    rng = random.Random(seed)
    m = EngineVsReference()
    stps = list(Stp)
    tifs = [TimeInForce.GTC] * 6 + [TimeInForce.IOC, TimeInForce.FOK]
    deepest = 0
    for step in range(1500):
        r = rng.random()
        side = rng.choice([Side.BUY, Side.SELL])
        if r < 0.65:
            m.limit(
                acc=rng.randint(1, 6),
                side=side,
                price=100 + (1 if side is Side.SELL else -1) * rng.randint(-3, 15),
                size=rng.randint(1, 20),
                tif=rng.choice(tifs),
                post_only=rng.random() < 0.1,
                stp=rng.choice(stps),
                short=rng.choice([0] * 10 + [1, 5, 100]),
            )
        elif r < 0.85:
            m.cancel(pick=rng.randrange(10**6), foreign=rng.randrange(8))
        else:
            m.market(
                acc=rng.randint(1, 6),
                side=side,
                size=rng.randint(1, 40),
                stp=rng.choice(stps),
                hold=rng.randrange(20_000),
                by_funds=rng.random() < 0.4,
            )
        if step % 25 == 0:
            m.book_never_crossed_at_rest()
            m.size_is_conserved()
            m.fifo_within_each_level()
            deepest = max(deepest, len(m.engine.resting_orders()))
        if step % 300 == 299:
            m.restart()
    assert deepest > 40
    m.teardown()
