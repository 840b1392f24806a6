"""Private streams: a user's own ``orders``, ``fills`` and ``balances``.

The account events journal (AccountEvent: per user and channel a gap-free
``seq``, written in the same transaction as the change it reports) is the
truth. Each server process has ONE ``PrivateHub`` per event loop: one reader
for all its sessions, which reads the new events of every (user, channel)
with subscribers in ONE statement per period (``WS_POLL_MS``) and fans them
out in memory.

A subscription joins the hub first, which fixes the seq after which the hub
hands it events; a ``resume`` replays from the database what lies between
the client's ``from_seq`` and that point, then continues with the queued
live events: no gap, no duplicate. A subscription whose queue overflows (a
client reading too slowly) catches up from the journal instead of losing
anything: private events are never dropped, only delayed.

Hand-written for the same reasons as apps/markets/streams.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from apps.accounts import selectors
from apps.core.errors import DomainError, ErrorCode
from apps.core.polling import poll_while_subscribed
from apps.markets.stream_wire import dumps

log = logging.getLogger(__name__)

PRIVATE_CHANNELS = ("orders", "fills", "balances")
MESSAGE_TYPES = {"orders": "order", "fills": "fill", "balances": "balance"}
REST_QUERIES = {
    "orders": "GET /v1/orders",
    "fills": "GET /v1/fills",
    "balances": "GET /v1/account/balances",
}
JOURNAL_BATCH = 500  # events read per (user, channel) per read
_BEHIND = object()  # queue sentinel: catch up from the journal

Key = tuple[int, str]  # (user_id, channel)
Send = Callable[[str], Awaitable[None]]


def private_message(channel: str, row: selectors.AccountEventRow) -> dict[str, Any]:
    return {
        "type": MESSAGE_TYPES[channel],
        "channel": channel,
        "seq": row.seq,
        "data": row.payload,
    }


class PrivateHub:
    """The process's reader of the account events journal."""

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s
        self.subscribers: dict[Key, set[PrivateSubscription]] = {}
        self.cursor: dict[Key, int] = {}
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()

    async def join(self, sub: PrivateSubscription) -> int:
        """Register ``sub``; it is handed every event after the returned seq."""
        async with self.lock:
            key = sub.key
            if key not in self.cursor:
                self.cursor[key] = await database_sync_to_async(
                    selectors.account_event_last_seq
                )(user_id=sub.user_id, channel=sub.channel)
            self.subscribers.setdefault(key, set()).add(sub)
            if self.task is None or self.task.done():
                self.task = asyncio.get_running_loop().create_task(self._run())
            return self.cursor[key]

    def leave(self, sub: PrivateSubscription) -> None:
        subs = self.subscribers.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[sub.key]
                self.cursor.pop(sub.key, None)

    async def _run(self) -> None:
        await poll_while_subscribed(self, "private stream")

    async def poll_once(self) -> None:
        async with self.lock:
            cursors = [(u, c, seq) for (u, c), seq in self.cursor.items()]
            if not cursors:
                return
            rows = await database_sync_to_async(selectors.account_events_after)(
                cursors=cursors, limit=JOURNAL_BATCH
            )
            for row in rows:
                key = (row.user_id, row.channel)
                if row.seq != self.cursor.get(key, -2) + 1:
                    continue  # its subscribers left meanwhile, or not yet visible
                self.cursor[key] = row.seq
                for sub in list(self.subscribers.get(key, ())):
                    sub.deliver(row)


_hubs: dict[asyncio.AbstractEventLoop, PrivateHub] = {}


def private_hub() -> PrivateHub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = PrivateHub(settings.WS_POLL_MS / 1000)
    return hub


@dataclass(eq=False)
class PrivateSubscription:
    """One session's subscription to one of its user's private channels."""

    channel: str
    user_id: int
    send: Send
    queue: asyncio.Queue[Any] = field(
        default_factory=lambda: asyncio.Queue(settings.WS_QUEUE_LIMIT)
    )
    last_seq: int = 0  # of the last event sent
    joined_at: int = 0  # the hub's seq when it joined
    task: asyncio.Task[None] | None = None

    @property
    def key(self) -> Key:
        return (self.user_id, self.channel)

    def deliver(self, row: selectors.AccountEventRow) -> None:
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_BEHIND)

    async def run(self) -> None:
        """Send what lies after ``last_seq``, then the live events, forever."""
        while True:
            try:
                await self._catch_up(self.joined_at)
                while (row := await self.queue.get()) is not _BEHIND:
                    if row.seq == self.last_seq + 1:
                        await self._send(row)
                    elif row.seq > self.last_seq + 1:
                        await self._catch_up(row.seq)  # never skip: read the gap
                        if row.seq == self.last_seq + 1:
                            await self._send(row)
                # Overflowed: the queue was dropped; read what it held.
                self.joined_at = await database_sync_to_async(
                    selectors.account_event_last_seq
                )(user_id=self.user_id, channel=self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - retried from last_seq, nothing lost
                log.exception("private stream %s of user %s failed", *self.key[::-1])
                await asyncio.sleep(1)

    async def _catch_up(self, upto: int) -> None:
        """Send the journal's events after ``last_seq`` up to ``upto``."""
        read = database_sync_to_async(selectors.account_events_after)
        while self.last_seq < upto:
            rows = await read(
                cursors=[(self.user_id, self.channel, self.last_seq)],
                limit=JOURNAL_BATCH,
            )
            if not rows:
                return  # not yet visible here; the live events will follow
            for row in rows:
                if row.seq > upto:
                    return
                await self._send(row)

    async def _send(self, row: selectors.AccountEventRow) -> None:
        self.last_seq = row.seq
        await self.send(dumps(private_message(self.channel, row)))


def private_request(frame: dict[str, Any]) -> tuple[str, int | None]:
    """(channel, from_seq) of a private subscribe/resume/unsubscribe frame."""
    channel = frame.get("channel")
    if channel not in PRIVATE_CHANNELS:
        raise DomainError(
            f"Unknown private channel; one of {', '.join(PRIVATE_CHANNELS)}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "channel", "channels": list(PRIVATE_CHANNELS)},
        )
    if frame.get("op") != "resume":
        return channel, None
    from_seq = frame.get("from_seq")
    if isinstance(from_seq, bool) or not isinstance(from_seq, int) or from_seq < 0:
        raise DomainError(
            "from_seq must be an integer >= 0: the last seq you processed.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "from_seq"},
        )
    return channel, from_seq


def _check_resumable(user_id: int, channel: str, from_seq: int) -> None:
    last = selectors.account_event_last_seq(user_id=user_id, channel=channel)
    if from_seq > last:
        raise DomainError(
            f"from_seq {from_seq} is ahead of the stream (last seq {last}).",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "from_seq", "last_seq": last},
        )
    first = selectors.account_event_first_seq(user_id=user_id, channel=channel)
    oldest_needed = from_seq + 1
    if oldest_needed <= last and (first is None or first > oldest_needed):
        raise DomainError(
            f"Events after seq {from_seq} are no longer kept; read them with "
            f"{REST_QUERIES[channel]}, then subscribe.",
            code=ErrorCode.STREAM_RESUME_TOO_OLD,
            details={
                "channel": channel,
                "from_seq": from_seq,
                "first_seq": first,
                "rest": REST_QUERIES[channel],
            },
        )


async def private_start(
    *, channel: str, user_id: int, from_seq: int | None, send: Send
) -> PrivateSubscription:
    """Join the hub; with ``from_seq`` (resume), first replay what followed
    it. Raises STREAM_RESUME_TOO_OLD when that is no longer kept."""
    if from_seq is not None:
        await database_sync_to_async(_check_resumable)(user_id, channel, from_seq)
    sub = PrivateSubscription(channel, user_id, send)
    sub.joined_at = await private_hub().join(sub)
    sub.last_seq = sub.joined_at if from_seq is None else from_seq
    sub.task = asyncio.get_running_loop().create_task(sub.run())
    return sub


def private_stop(sub: PrivateSubscription) -> None:
    private_hub().leave(sub)
    if sub.task is not None:
        sub.task.cancel()
