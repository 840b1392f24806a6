"""The simulator's opening: the makers' first ladders before any trade. No
server and no database: the makers stand in for the real ones."""

from __future__ import annotations

from apps.web.simulator.agents import Throttle
from apps.web.simulator.quoting import LadderShape
from apps.web.simulator.runner import Config, Credentials, Simulator

PAIRS = ("BTC-USD", "ETH-USD", "ETH-BTC")
LADDER = 2 * LadderShape().levels  # both sides of the default shape


class FirstLadder:
    """A maker with ``left`` placements of its first ladder to make, taken
    through the real throttle and turn budget."""

    def __init__(self, left: int) -> None:
        self.left = left

    def on_stream(self) -> None:
        pass

    def requote(self, throttle: Throttle, budget: int) -> int:
        for _ in range(budget):
            if not self.left or not throttle.take():
                break
            self.left -= 1
        return self.left

    def plan_size(self) -> int:
        return self.left


def simulator() -> Simulator:
    cred = Credentials("hkt_test_x", "secret")
    cfg = Config(
        url="http://127.0.0.1:9",
        makers=dict.fromkeys(PAIRS, cred),
        taker=cred,
        arbitrageur=cred,
        tick_s=0.01,
    )
    return Simulator(cfg)


def test_the_opening_posts_every_first_ladder_at_once_without_moving_prices():
    sim = simulator()
    sim.makers = {pair: FirstLadder(LADDER) for pair in PAIRS}  # type: ignore[misc]
    # No models and no taker: a price step or a trade during the opening
    # would fail here. At the steady rate (3.75 a second) a ladder takes
    # 15 s; the start surplus puts it out within the turns of a second.
    sim.open(timeout=1.0)
    assert {pair: m.left for pair, m in sim.makers.items()} == dict.fromkeys(PAIRS, 0)
    assert sim.sim_clock == 0.0
    sim.pool.shutdown()
