"""Concurrent-connection slots: at most N WebSocket connections per client
address (or per API key) at once, across every server process.

With Redis: one sorted set per (kind, value), one member per connection,
scored with the time it expires. Taking a slot is one Lua script (drop the
expired members, count, add if under the limit), so two processes never
both take the last slot. Each process re-scores its own members every
``TTL / 3`` while they are connected and removes them on disconnect; the
members of a process that died stop being re-scored and expire ``TTL``
later. A plain INCR/DECR counter with a TTL (the obvious design) leaks
instead: every live connection of the same address refreshes the one key's
TTL, so a crashed process's increments stay counted as long as the address
keeps a single connection open anywhere. Time is Redis's own (``TIME``), so
the servers' clocks do not matter.

Without Redis (the embedded default runs one server process) the counts are
a dict in the process.

Hand-written: channels and daphne have no connection limits, and
django-ratelimit counts requests per window, not connections held.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

TTL_MS = 60_000  # how long a dead process's slots stay counted
KEY_PREFIX = "ws:conn"

# KEYS[1]: the sorted set; ARGV: limit, ttl_ms, member. 1 if taken, else 0.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: sorted sets; ARGV[1]: ttl_ms, ARGV[i + 1]: the member in KEYS[i].
# XX: a member that already expired (this process stalled for TTL) is not
# revived; the connection then counts for nothing rather than twice.
_REFRESH = """
local t = redis.call('TIME')
local expires = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expires, ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS
"""


class Slot:
    """One connection's place in a (kind, value) count; ``release`` gives it
    back (idempotent)."""

    def __init__(
        self, kind: str, value: str, release: Callable[[Slot], Awaitable[None]]
    ) -> None:
        self.kind, self.value = kind, value
        self._release: Callable[[Slot], Awaitable[None]] | None = release

    async def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            await release(self)


class LocalSlots:
    """Counts in this process (no Redis)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    async def acquire(self, kind: str, value: str, limit: int) -> Slot | None:
        key = (kind, value)
        if self.counts.get(key, 0) >= limit:
            return None
        self.counts[key] = self.counts.get(key, 0) + 1
        return Slot(kind, value, self._release)

    async def _release(self, slot: Slot) -> None:
        key = (slot.kind, slot.value)
        left = self.counts.get(key, 0) - 1
        if left > 0:
            self.counts[key] = left
        else:
            self.counts.pop(key, None)

    async def count(self, kind: str, value: str) -> int:
        return self.counts.get((kind, value), 0)


class RedisSlots:
    """Counts shared by every process on one Redis (see the module docstring).

    Redis away: a connection is let in (logged) rather than refused; the
    limit is a guard, not a reason to turn every client away."""

    def __init__(self, client: Any, ttl_ms: int = TTL_MS) -> None:
        self.client = client
        self.ttl_ms = ttl_ms
        self.process = uuid.uuid4().hex[:12]
        self.ids = itertools.count(1)
        self.held: dict[Slot, tuple[str, str]] = {}  # slot -> (redis key, member)
        self.refresher: asyncio.Task[None] | None = None
        self._acquire = client.register_script(_ACQUIRE)
        self._refresh = client.register_script(_REFRESH)

    @staticmethod
    def key(kind: str, value: str) -> str:
        return f"{KEY_PREFIX}:{kind}:{value}"

    async def acquire(self, kind: str, value: str, limit: int) -> Slot | None:
        key, member = self.key(kind, value), f"{self.process}:{next(self.ids)}"
        try:
            taken = await self._acquire(keys=[key], args=[limit, self.ttl_ms, member])
        except Exception:  # noqa: BLE001 - fail open, see the class docstring
            log.warning(
                "websocket slots: Redis unavailable; not counting", exc_info=True
            )
            return Slot(kind, value, _nothing)
        if not taken:
            return None
        slot = Slot(kind, value, self._release)
        self.held[slot] = (key, member)
        if self.refresher is None or self.refresher.done():
            self.refresher = asyncio.get_running_loop().create_task(
                self._refresh_loop()
            )
        return slot

    async def _release(self, slot: Slot) -> None:
        held = self.held.pop(slot, None)
        if held is None:
            return
        try:
            await self.client.zrem(*held)
        except Exception:  # noqa: BLE001 - it expires by itself after the TTL
            log.warning("websocket slots: cannot release %s", held[0], exc_info=True)

    async def _refresh_loop(self) -> None:
        while self.held:
            await asyncio.sleep(self.ttl_ms / 3000)
            await self.refresh()

    async def refresh(self) -> None:
        """Push the expiry of every slot this process holds one TTL ahead."""
        held = list(self.held.values())
        if not held:
            return
        try:
            await self._refresh(
                keys=[key for key, _ in held],
                args=[self.ttl_ms, *[member for _, member in held]],
            )
        except Exception:  # noqa: BLE001 - retried at the next period
            log.warning("websocket slots: cannot refresh", exc_info=True)

    async def count(self, kind: str, value: str) -> int:
        """Live (unexpired) slots of (kind, value), for tests and operators."""
        key = self.key(kind, value)
        now_s, now_us = await self.client.time()
        return int(await self.client.zcount(key, now_s * 1000 + now_us // 1000, "+inf"))


async def _nothing(slot: Slot) -> None:
    return None


Slots = LocalSlots | RedisSlots
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Slots] = (
    weakref.WeakKeyDictionary()
)


def connection_slots() -> Slots:
    """This event loop's slots: Redis when ``REDIS_URL`` is set, else local
    (a Redis client belongs to the loop that made it)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        if settings.REDIS_URL:
            import redis.asyncio

            slots = RedisSlots(redis.asyncio.Redis.from_url(settings.REDIS_URL))
        else:
            slots = LocalSlots()
        _slots[loop] = slots
    return slots
