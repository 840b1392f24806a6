"""The loop of the streams' journal readers (apps/markets/streams.py,
apps/accounts/streams.py): one loop, so both poll and retry alike."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def poll_while_subscribed(hub: Any, what: str) -> None:
    """A journal reader's loop (this hub's and the private one,
    apps/accounts/streams.py): ``hub.poll_once()`` every ``hub.poll_s``, or
    as soon as ``hub.wake`` is set, while ``hub.subscribers`` has any. A
    failed read (the database away) is logged and retried."""
    while hub.subscribers:
        try:
            await hub.poll_once()
        except Exception:  # noqa: BLE001 - the database may be away: retry
            log.exception("%s: reading the journal failed", what)
        hub.wake.clear()
        try:
            await asyncio.wait_for(hub.wake.wait(), hub.poll_s)
        except TimeoutError:
            pass
