"""Weighted rate limits: per API key for signed calls, per client IP for public.

Every endpoint has a weight (its cost); each budget is a weight per minute: the
key's ``weight_per_minute`` (1,200 retail, 6,000 for market makers, set in the
admin) or ``settings.RATE_LIMIT_PUBLIC_WEIGHT_PER_MINUTE`` (default 1,200) per
client IP. A fixed one-minute window; past the budget a call is refused with
429 until the window ends, and nothing escalates (no bans).

Why extend django-ratelimit instead of calling it: its ``get_usage`` only ever
adds 1 to a counter, and weights need "add N". Rather than write a second
limiter, we reuse its window (the per-value jittered fixed window of
``_get_window``), its cache key (``_make_cache_key``), its settings
(``RATELIMIT_ENABLE``, ``RATELIMIT_USE_CACHE``, ``RATELIMIT_FAIL_OPEN``) and its
expiry, and add the weight to the very same counter with the cache's atomic
``incr(key, delta)``. So ``django_ratelimit.core.get_usage`` with the same
group, value and rate reads our counter (a test proves it). These are private
names of django-ratelimit, pinned at 4.1.0 in requirements/base.txt.

The counter lives in the shared cache (Redis, or the database cache), so every
server process draws on one budget. On Redis ``add`` and ``incr`` are atomic; on
the database cache ``incr`` is read-then-write, so concurrent processes may
under-count slightly: acceptable for the embedded single-machine default.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import (
    EXPIRATION_FUDGE,
    _get_window,
    _make_cache_key,
    _split_rate,
)

from apps.apikeys.errors import RateLimitExceeded
from apps.apikeys.ip import IPAddress, client_address
from apps.core.errors import DomainError, ErrorCode

log = logging.getLogger(__name__)

PERIOD_SECONDS = 60
DEFAULT_PUBLIC_WEIGHT_PER_MINUTE = 1_200
GROUP_KEY = "apikeys.key"
GROUP_IP = "apikeys.ip"


@dataclass(frozen=True, slots=True)
class Budget:
    """Which counter a request draws on."""

    group: str
    value: str  # the API key id, or the client's address (IPv6 by /64)
    limit: int  # weight per ``period`` seconds
    period: int = PERIOD_SECONDS

    @property
    def rate(self) -> str:
        return f"{self.limit}/{self.period}s"

    @property
    def scope(self) -> str:
        return "key" if self.group == GROUP_KEY else "ip"


@dataclass(frozen=True, slots=True)
class Usage:
    """The state of a budget after (or, for a peek, without) a charge."""

    limit: int
    used: int
    cost: int
    reset: int  # epoch seconds at which the window ends and the budget is back
    scope: str
    exceeded: bool = False

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def retry_after(self) -> int:
        return max(1, self.reset - _now_s())

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Cost": str(self.cost),
        }

    def error(self) -> RateLimitExceeded:
        retry_after = self.retry_after()
        return RateLimitExceeded(
            f"Rate limit of {self.limit} weight per minute exceeded; "
            f"retry in {retry_after} s.",
            details={
                "scope": self.scope,
                "limit": self.limit,
                "remaining": self.remaining,
                "cost": self.cost,
                "reset": self.reset,
                "retry_after": retry_after,
            },
            headers={**self.headers(), "Retry-After": str(retry_after)},
        )


def _now_s() -> int:
    return time.time_ns() // 1_000_000_000


def public_weight_per_minute() -> int:
    return int(
        getattr(
            settings,
            "RATE_LIMIT_PUBLIC_WEIGHT_PER_MINUTE",
            DEFAULT_PUBLIC_WEIGHT_PER_MINUTE,
        )
    )


def key_budget(api_key: Any) -> Budget:
    return Budget(GROUP_KEY, api_key.key, int(api_key.weight_per_minute))


def ip_budget(request: HttpRequest) -> Budget:
    return Budget(GROUP_IP, ip_bucket(request), public_weight_per_minute())


def ip_bucket(request: HttpRequest) -> str:
    """The client's address; IPv6 grouped by /64 (what one subscriber gets),
    as django-ratelimit's RATELIMIT_IPV6_MASK does."""
    return address_bucket(client_address(request))


def address_bucket(address: IPAddress | None) -> str:
    """The budget a client address draws on (see ``ip_bucket``); the
    WebSocket connection limit groups addresses the same way."""
    if address is None:
        return "unknown"
    if address.version == 6:
        mask = int(getattr(settings, "RATELIMIT_IPV6_MASK", 64))
        return str(
            ipaddress.ip_network(f"{address}/{mask}", strict=False).network_address
        )
    return str(address)


def _locate(budget: Budget) -> tuple[str, int, int]:
    """(cache key, reset, period). django-ratelimit names a window by its last
    second (inclusive), so the budget is back one second after it: ``reset``."""
    limit, period = _split_rate(budget.rate)
    window = _get_window(budget.value, period)
    cache_key = _make_cache_key(budget.group, window, budget.rate, budget.value, ALL)
    return cache_key, window + 1, period


def _enabled() -> bool:
    return bool(getattr(settings, "RATELIMIT_ENABLE", True))


def _cache() -> Any:
    return caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]


def charge(budget: Budget, weight: int) -> Usage:
    """Add ``weight`` to the budget's counter and say whether it overflowed.

    A refused request is refunded (its weight taken back off the counter), so a
    heavy call that does not fit leaves the rest of the budget to lighter ones.
    """
    if not _enabled():
        return Usage(budget.limit, 0, weight, 0, budget.scope)
    cache_key, window, period = _locate(budget)
    cache = _cache()
    try:
        used = _add(cache, cache_key, weight, period)
    except Exception:  # noqa: BLE001 - Redis or database down
        log.warning("rate-limit cache unavailable", exc_info=True)
        used = None
    if used is None:
        if getattr(settings, "RATELIMIT_FAIL_OPEN", False):
            return Usage(budget.limit, 0, weight, window, budget.scope)
        raise DomainError(
            "The rate limiter is unavailable; retry shortly.",
            code=ErrorCode.SYSTEM_UNAVAILABLE,
        )
    if used > budget.limit:
        if weight:
            try:
                used = cache.decr(cache_key, weight)
            except ValueError:  # the window ended meanwhile
                used = 0
        return Usage(budget.limit, used, weight, window, budget.scope, exceeded=True)
    return Usage(budget.limit, used, weight, window, budget.scope)


def _redis_client(cache: Any) -> Any:
    from django_redis.cache import RedisCache

    return (
        cache.client.get_client(write=True) if isinstance(cache, RedisCache) else None
    )


def _add(cache: Any, cache_key: str, weight: int, period: int) -> int | None:
    timeout = period + EXPIRATION_FUDGE
    raw = _redis_client(cache)
    if raw is not None:
        # Redis: one round trip instead of add + incr (django-redis keeps ints
        # as plain numbers, so the cache API reads the same counter).
        key = cache.make_key(cache_key)
        pipe = raw.pipeline(transaction=False)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incrby(key, weight)
        return int(pipe.execute()[1])
    for _ in range(2):
        if cache.add(cache_key, weight, timeout):
            return weight
        try:
            return int(cache.incr(cache_key, weight))
        except ValueError:
            continue  # expired between add and incr: start the window again
    return None


def peek(budget: Budget, weight: int) -> Usage:
    """The budget's state without charging (for answers refused before the
    rate-limit step)."""
    if not _enabled():
        return Usage(budget.limit, 0, weight, 0, budget.scope)
    cache_key, window, _ = _locate(budget)
    used = _cache().get(cache_key, 0)
    return Usage(budget.limit, int(used or 0), weight, window, budget.scope)
