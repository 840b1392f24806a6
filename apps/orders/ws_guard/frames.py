"""Frame floods: a per-connection token bucket on the frames a client sends.

Hand-written: it counts frames on one connection in memory, in a few lines;
django-ratelimit's limits are per request through the shared cache, a round
trip per frame for a count nobody else needs to see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"  # process the frame
    REFUSE = "refuse"  # answer RATE_LIMIT_EXCEEDED, do not process it
    CLOSE = "close"  # sustained abuse: close the connection (4029)


class FrameLimiter:
    """``rate`` frames a second on average, bursts of up to ``burst``.

    A refused frame is not processed. A client that keeps sending at
    ``abuse_factor`` times the rate or more for ``abuse_seconds`` (so that
    the frames refused in that window reach ``(abuse_factor - 1) * rate *
    abuse_seconds``) is abusing the connection: the verdict becomes CLOSE.
    One-second buckets of refusals make that window; a client that calms
    down is forgiven as its old buckets roll out.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        abuse_factor: float = 5,
        abuse_seconds: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens: float = burst
        self.updated = clock()
        self.abuse_seconds = abuse_seconds
        self.abuse_limit = (abuse_factor - 1) * rate * abuse_seconds
        self.refused: dict[int, int] = {}  # whole second -> frames refused

    def check(self) -> Verdict:
        """Take a token for one incoming frame."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return Verdict.ALLOW
        second = int(now)
        self.refused[second] = self.refused.get(second, 0) + 1
        for old in [s for s in self.refused if s <= second - self.abuse_seconds]:
            del self.refused[old]
        if sum(self.refused.values()) >= self.abuse_limit:
            return Verdict.CLOSE
        return Verdict.REFUSE

    def retry_after_ms(self) -> int:
        """How long until the next frame would be allowed."""
        return max(1, int((1 - self.tokens) / self.rate * 1000) + 1)
