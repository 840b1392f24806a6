"""The simulated reference price of a pair, and its spread and depth.

Pure Python (no Django, no I/O): a process is stepped one simulated second at
a time from a seeded ``random.Random``, so a seed gives the same path on every
machine. Floats are fine here: this is a model, not money; prices reach the
wire only through ``quoting.Grid``, which puts them on the pair's tick grid
with a named rounding.

The log price ``x`` moves each step by

    r = -kappa * (x - log(anchor)) + sigma_t * z + J

- ``sigma_t`` follows GARCH(1,1): ``sigma_t^2 = omega + alpha * r_{t-1}^2 +
  beta * sigma_{t-1}^2``, with ``omega`` chosen so that the long-run variance
  is the target per-second variance: calm and busy spells (volatility
  clustering, the autocorrelation of absolute returns).
- ``z`` is a standard normal shock; two pairs may share part of it
  (``correlated_with``: ETH-USD moves with BTC-USD).
- ``J`` is a jump: with probability ``jump_rate`` per second a normal shock of
  ``jump_std`` (a news event). The GARCH recursion reads the diffusive part
  of the return only (a jump's square would blow the variance up a
  hundredfold), and a jump multiplies the variance by ``jump_vol_boost``
  instead: a jump is followed by a busy spell.
- ``kappa`` is a weak pull towards ``anchor`` (half-life of days), so a sandbox
  that runs for months stays in a familiar range and the README's examples
  keep working.

Spread and depth are Ornstein-Uhlenbeck processes around their means
(``MeanReverting``): they wander and come back.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SECONDS_PER_YEAR = 365 * 86_400


@dataclass(frozen=True)
class PriceParams:
    """One pair's price model. Volatilities are annualised fractions."""

    anchor: float
    annual_vol: float
    alpha: float = 0.05  # GARCH reaction to the last squared return
    beta: float = 0.945  # GARCH persistence (alpha + beta < 1)
    jump_rate: float = 1 / 7_200  # jumps per simulated second (12 a day)
    jump_std: float = 0.003  # size of a jump, as a log return
    jump_vol_boost: float = 2.0  # a jump multiplies the GARCH variance by this
    half_life_days: float = 3.0  # of the pull towards the anchor

    def __post_init__(self) -> None:
        if not (self.anchor > 0 and self.annual_vol > 0):
            raise ValueError("anchor and annual_vol must be positive")
        if not (self.alpha >= 0 and self.beta >= 0 and self.alpha + self.beta < 1):
            raise ValueError("GARCH needs alpha, beta >= 0 and alpha + beta < 1")

    @property
    def step_variance(self) -> float:
        """The long-run variance of one second's diffusive return."""
        return self.annual_vol**2 / SECONDS_PER_YEAR

    @property
    def omega(self) -> float:
        return self.step_variance * (1 - self.alpha - self.beta)

    @property
    def kappa(self) -> float:
        return math.log(2) / (self.half_life_days * 86_400)


class PriceProcess:
    """A pair's reference price, stepped one simulated second at a time."""

    def __init__(self, params: PriceParams, *, start: float, rng: random.Random):
        if start <= 0:
            raise ValueError("start price must be positive")
        self.params = params
        self.rng = rng
        self.log_price = math.log(start)
        self.variance = params.step_variance
        self.last_return = 0.0
        self.last_shock = 0.0  # the standard normal z of the last step
        self.jumps = 0

    @property
    def price(self) -> float:
        return math.exp(self.log_price)

    def step(self, shock: float | None = None) -> float:
        """Advance one second; ``shock`` replaces the step's own normal draw
        (a correlated pair passes its mix). Returns the log return."""
        p = self.params
        z = self.rng.gauss(0.0, 1.0) if shock is None else shock
        jump = 0.0
        if self.rng.random() < p.jump_rate:
            jump = self.rng.gauss(0.0, p.jump_std)
            self.jumps += 1
        pull = -p.kappa * (self.log_price - math.log(p.anchor))
        diffusive = math.sqrt(self.variance) * z
        r = pull + diffusive + jump
        self.variance = p.omega + p.alpha * diffusive**2 + p.beta * self.variance
        if jump:
            self.variance *= p.jump_vol_boost
        self.log_price += r
        self.last_return, self.last_shock = r, z
        return r

    def nudge(self, price: float, weight: float = 1.0) -> None:
        """Move the reference towards an observed ``price`` (a fill on the
        pair's own book: the maker learns where the market is)."""
        if price > 0:
            self.log_price += weight * (math.log(price) - self.log_price)


def correlated_shock(rng: random.Random, leader_shock: float, rho: float) -> float:
    """A standard normal with correlation ``rho`` to ``leader_shock``."""
    return rho * leader_shock + math.sqrt(1 - rho * rho) * rng.gauss(0.0, 1.0)


@dataclass(frozen=True)
class MeanReverting:
    """An Ornstein-Uhlenbeck process's parameters: it wanders around ``mean``
    with stationary standard deviation ``std``, coming back with the given
    half-life (seconds), kept within [low, high]."""

    mean: float
    std: float
    half_life_s: float
    low: float
    high: float

    def step(self, value: float, rng: random.Random, dt: float = 1.0) -> float:
        theta = math.log(2) / self.half_life_s
        keep = math.exp(-theta * dt)
        noise = self.std * math.sqrt(1 - keep * keep)
        value = self.mean + (value - self.mean) * keep + noise * rng.gauss(0.0, 1.0)
        return min(self.high, max(self.low, value))


# The maker's half-spread in ticks, and a multiplier of its sizes.
SPREAD_TICKS = MeanReverting(mean=2.0, std=0.8, half_life_s=120, low=0.5, high=5.0)
DEPTH_FACTOR = MeanReverting(mean=1.0, std=0.25, half_life_s=300, low=0.4, high=2.0)


def pareto_size(rng: random.Random, *, minimum: float, tail: float = 1.6) -> float:
    """A heavy-tailed taker size: Pareto with ``P(S > s) = (minimum/s)^tail``
    for s >= minimum (tail 1.6: finite mean, infinite variance, like real
    order sizes). The caller caps it."""
    return minimum * rng.paretovariate(tail)


def returns_stats(returns: list[float], lag: int = 1) -> dict[str, float]:
    """Volatility, excess kurtosis and the autocorrelation at ``lag`` of the
    returns and of their absolute values (the clustering statistic)."""
    n = len(returns)
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / n
    kurt = sum((r - mean) ** 4 for r in returns) / n / (var * var) - 3
    return {
        "std": math.sqrt(var),
        "excess_kurtosis": kurt,
        "acf_returns": _acf(returns, lag),
        "acf_abs_returns": _acf([abs(r) for r in returns], lag),
    }


def _acf(xs: list[float], lag: int) -> float:
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs)
    cov = sum((xs[i] - mean) * (xs[i + lag] - mean) for i in range(n - lag))
    return cov / var
