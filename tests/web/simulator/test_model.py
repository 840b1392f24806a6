"""The price model's statistics with fixed seeds, within the bounds that
docs/sandbox.md ("Simulated market") documents. No database."""

from __future__ import annotations

import math
import random

import pytest

from apps.web.simulator.model import (
    DEPTH_FACTOR,
    SPREAD_TICKS,
    PriceParams,
    PriceProcess,
    correlated_shock,
    pareto_size,
    returns_stats,
)

BTC = PriceParams(anchor=60_000.0, annual_vol=0.5)
DAY = 86_400


def one_day(seed: int, params: PriceParams = BTC) -> tuple[PriceProcess, list[float]]:
    process = PriceProcess(params, start=params.anchor, rng=random.Random(seed))
    return process, [process.step() for _ in range(DAY)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_day_of_returns_has_the_documented_volatility_clustering_and_jumps(seed):
    process, returns = one_day(seed)
    stats = returns_stats(returns)
    target = math.sqrt(BTC.step_variance)
    assert 0.85 * target <= stats["std"] <= 1.35 * target
    # Clustering: |r| is autocorrelated (iid returns give ~0), r itself is not.
    assert 0.08 <= stats["acf_abs_returns"] <= 0.4
    assert abs(stats["acf_returns"]) <= 0.03
    assert stats["excess_kurtosis"] > 3  # fat tails
    assert process.jumps >= 1
    assert abs(math.log(process.price / BTC.anchor)) < 0.15


def test_iid_normal_returns_would_fail_the_clustering_bound():
    rng = random.Random(1)
    iid = [rng.gauss(0.0, 1.0) for _ in range(DAY)]
    assert abs(returns_stats(iid)["acf_abs_returns"]) < 0.02


def test_a_seed_gives_the_same_path_and_another_seed_another():
    assert one_day(5)[1][:1000] == one_day(5)[1][:1000]
    assert one_day(5)[1][:1000] != one_day(6)[1][:1000]


def test_a_restarted_process_continues_from_its_start_price():
    process = PriceProcess(BTC, start=64_123.0, rng=random.Random(1))
    process.step()
    assert abs(process.price / 64_123.0 - 1) < 0.01


def test_the_pull_to_the_anchor_is_weak_but_brings_a_far_price_back():
    quiet = PriceParams(anchor=100.0, annual_vol=1e-6, jump_rate=0.0)
    process = PriceProcess(quiet, start=200.0, rng=random.Random(1))
    for _ in range(3 * DAY):
        process.step()
    # The log distance halves in a half-life (3 days): 200 -> 100 * 2 ** 0.5.
    assert 139 < process.price < 144


def test_correlated_shocks_have_the_asked_correlation():
    rng = random.Random(2)
    lead = [rng.gauss(0.0, 1.0) for _ in range(50_000)]
    follow = [correlated_shock(rng, z, 0.8) for z in lead]
    corr = sum(a * b for a, b in zip(lead, follow, strict=True)) / len(lead)
    assert 0.77 < corr < 0.83


def test_spread_and_depth_revert_to_their_means_within_bounds():
    rng = random.Random(3)
    spread, depth, spreads = SPREAD_TICKS.mean, DEPTH_FACTOR.mean, []
    for _ in range(DAY):
        spread = SPREAD_TICKS.step(spread, rng)
        depth = DEPTH_FACTOR.step(depth, rng)
        spreads.append(spread)
        assert SPREAD_TICKS.low <= spread <= SPREAD_TICKS.high
        assert DEPTH_FACTOR.low <= depth <= DEPTH_FACTOR.high
    assert abs(sum(spreads) / len(spreads) - SPREAD_TICKS.mean) < 0.2


def test_taker_sizes_are_heavy_tailed():
    rng = random.Random(4)
    sizes = sorted(pareto_size(rng, minimum=1.0) for _ in range(20_000))
    assert sizes[0] >= 1.0
    median, p99 = sizes[len(sizes) // 2], sizes[int(len(sizes) * 0.99)]
    assert 1.4 < median < 1.7  # 2 ** (1 / 1.6)
    assert p99 > 10 * median  # a normal's p99 is within 2x of its median
