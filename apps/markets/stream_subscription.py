"""One client's subscription to a public channel of one pair, as the hub
(apps/markets/streams.py) hands it events: a bounded queue and a task that
sends, or, while the task is idle, the hub writing a ready-made frame
itself; and the sandbox's stream faults (``subscription_scenario``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from apps.core.errors import DomainError, ErrorCode
from apps.markets import stream_feeds
from apps.markets.models import Pair
from apps.markets.stream_book import Event
from apps.markets.stream_feeds_wire import is_feed
from apps.markets.stream_wire import dumps, resync_message

if TYPE_CHECKING:
    from apps.markets.streams import MarketHub

log = logging.getLogger("apps.markets.streams")


@dataclass(frozen=True, slots=True)
class Resync:
    """Queue marker: the subscription lost events (``reason`` is sent)."""

    reason: str


Send = Callable[[str], Awaitable[None]]  # sends one text frame
# Writes one ready-made frame at once, without awaiting; False when it did
# not (the message then goes through the queue and ``Send``).
WriteNow = Callable[[bytes], bool]


@dataclass(eq=False)
class Subscription:
    """One client's subscription to one (channel, pair)."""

    channel: str
    pair: Pair
    depth: int
    send: Send
    queue: asyncio.Queue[Any] = field(
        default_factory=lambda: asyncio.Queue(settings.WS_QUEUE_LIMIT)
    )
    last_seq: int = 0  # of the last message sent (the heartbeat shows it)
    task: asyncio.Task[None] | None = None
    hub: MarketHub | None = None  # set by ``MarketHub.join``
    write_now: WriteNow | None = None
    # The sandbox's forced gap: the next book delta is counted as sent and
    # not sent (``subscription_scenario``).
    skip_next: bool = False
    # True while the task waits for its next event, all sent before it:
    # the hub may then write an event itself (``deliver``).
    idle: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.pair.symbol)

    def deliver(self, event: Event) -> None:
        """From the hub (or a ticker or candles feed): write ``event`` now if
        the subscription is idle and its connection can take a ready-made
        frame, else queue it; on overflow drop the queue and mark a resync
        (never block the hub, so a slow client slows no other). A book
        subscription takes only the book events that change its window, a
        trades one only trades: the queue holds what will be sent."""
        if self.channel == "book":
            if event.type != "book" or event.windows.get(self.depth) is None:
                return
        elif self.channel == "trades" and event.type != "trade":
            return
        if (
            self.idle
            and self.write_now is not None
            and self.queue.empty()
            and isinstance(event, Event)  # not a feed's FeedMessage
            and self._write(event)
        ):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.resync("slow_consumer")

    def _write(self, event: Event) -> bool:
        """Write ``event`` to the client now, from the hub (its task is idle,
        so nothing of this subscription is waiting to go before it): the
        event's frame is made once and copied to every such subscriber,
        with no task switch or ASGI send per client."""
        if self.channel == "book":
            if event.seq <= self.last_seq:
                return True  # in the snapshot already
            key: tuple[int, int] | None = (self.depth, self.last_seq)
            text = event.book_text(self.pair, self.depth, self.last_seq)
            if text is None:
                return True
            if self.skip_next:  # the sandbox's forced gap
                self.skip_next, self.last_seq = False, event.seq
                return True
        else:
            key, text = None, event.trade_text(self.pair)
        assert self.write_now is not None
        if not self.write_now(event.frame(key, text)):
            return False
        self.last_seq = event.seq
        return True

    async def _next(self) -> Any:
        """The next queued item; idle while waiting with nothing queued."""
        self.idle = True
        try:
            return await self.queue.get()
        finally:
            self.idle = False

    def resync(self, reason: str) -> None:
        """Drop what is queued and start again after a ``resync`` (a book
        subscription with a fresh snapshot)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(Resync(reason))

    async def run(self) -> None:
        """Send the subscription's messages until cancelled. A failure is
        announced as a resync and the subscription starts again: never left
        silently frozen."""
        while True:
            try:
                if self.channel == "book":
                    await self._run_book()
                elif is_feed(self.channel):  # ticker, candles:<interval>
                    await stream_feeds.feed_run(self)
                else:
                    await self._run_trades()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - announced, then retried
                log.exception("market stream: %s %s failed", *self.key)
                await self.send(
                    dumps(resync_message(self.channel, self.pair, "server_error"))
                )
                await asyncio.sleep(1)

    async def _run_book(self) -> None:
        if self.hub is None:
            raise RuntimeError("a book subscription runs after joining its hub")
        while True:
            self.last_seq, text = self.hub.book_snapshot(self.pair.pk, self.depth)
            await self.send(text)
            while not isinstance(event := await self._next(), Resync):
                if event.seq <= self.last_seq or event.type != "book":
                    continue  # in the snapshot already, or not a book change
                text = event.book_text(self.pair, self.depth, self.last_seq)
                if text is None:
                    continue  # nothing changed in this subscription's window
                if self.skip_next:  # the sandbox's forced gap
                    self.skip_next, self.last_seq = False, event.seq
                    continue
                # last_seq first: a heartbeat built while this send waits
                # for the socket must not name an older seq than it follows.
                self.last_seq = event.seq
                await self.send(text)
            await self.send(dumps(resync_message("book", self.pair, event.reason)))

    async def _run_trades(self) -> None:
        while True:
            event = await self._next()
            if isinstance(event, Resync):
                await self.send(
                    dumps(resync_message("trades", self.pair, event.reason))
                )
                continue
            if event.type == "trade":
                self.last_seq = event.seq
                await self.send(event.trade_text(self.pair))


SCENARIOS = ("gap", "resync")
SCENARIO_RESYNC_REASON = "sandbox"


def subscription_scenario(sub: Subscription, scenario: Any) -> None:
    """The sandbox's stream faults (docs/sandbox.md), so that a client's
    recovery can be tested at will: ``gap`` drops the book subscription's
    next delta (the one after it names the dropped one in ``prev_seq``);
    ``resync`` restarts the subscription with ``resync`` (reason
    ``sandbox``) as the server's own resyncs do. The caller checks that the
    exchange is a sandbox."""
    if scenario not in SCENARIOS:
        raise DomainError(
            f"scenario must be one of {', '.join(SCENARIOS)}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "scenario", "scenarios": list(SCENARIOS)},
        )
    if scenario == "gap":
        if sub.channel != "book":
            raise DomainError(
                "A forced gap applies to a book subscription (the channel whose "
                "messages chain by prev_seq).",
                code=ErrorCode.VALIDATION_ERROR,
                details={"field": "channel"},
            )
        sub.skip_next = True
        return
    # Every channel's task (feeds' too) announces it and starts again.
    sub.resync(SCENARIO_RESYNC_REASON)
