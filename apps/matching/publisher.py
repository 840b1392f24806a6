"""The matcher's publisher: committed market events to the channel layer."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from apps.markets.publish import JournalEvent, publish_market_events_async

log = logging.getLogger(__name__)


class EventPublisher:
    """Sends committed market events to the channel layer from one background
    thread, in commit order, so that publishing never delays the next batch.
    Losing a message here costs a subscriber a resync, never data: the
    journal (MarketEvent) already holds every event."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[list[JournalEvent] | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def submit(self, events: list[JournalEvent]) -> None:
        if self.thread is None:
            self.thread = threading.Thread(
                target=self._run, name="event-publisher", daemon=True
            )
            self.thread.start()
        self.queue.put(events)

    def _run(self) -> None:
        # One event loop for the thread's life: the channel layer keeps its
        # Redis connection per loop, and async_to_sync would start a loop, a
        # thread and a connection for every batch.
        loop = asyncio.new_event_loop()
        try:
            while (events := self.queue.get()) is not None:
                try:
                    loop.run_until_complete(publish_market_events_async(events))
                except Exception:  # noqa: BLE001 - subscribers resync from the journal
                    log.exception("could not publish %d market events", len(events))
        finally:
            loop.close()

    def close(self, timeout: float = 5.0) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join(timeout)
            self.thread = None
