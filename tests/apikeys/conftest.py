from __future__ import annotations

import time

import django_ratelimit.core
import pytest

from apps.apikeys import ratelimit


class FrozenClock:
    """A settable wall clock in whole seconds for the rate-limit windows."""

    def __init__(self) -> None:
        self.now = time.time_ns() // 1_000_000_000

    def time(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


@pytest.fixture
def rl_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """Freeze the rate-limit window so a test cannot straddle its end."""
    clock = FrozenClock()
    monkeypatch.setattr(django_ratelimit.core, "time", clock)
    monkeypatch.setattr(ratelimit, "_now_s", clock.time)
    return clock
