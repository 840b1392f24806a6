"""The consumer's share of the guard: frame floods and connections per API
key. ``GuardedConsumerMixin`` goes before ``AsyncWebsocketConsumer`` in the
consumer's bases; the consumer calls ``frame_refused`` first thing in
``receive`` and ``key_slot_take`` once ``auth`` has succeeded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings

from apps.core.errors import DomainError, ErrorCode
from apps.orders.ws_guard.frames import FrameLimiter, Verdict
from apps.orders.ws_guard.middleware import CLOSE_TOO_MANY, error_frame
from apps.orders.ws_guard.slots import Slot, connection_slots

log = logging.getLogger(__name__)

ID_PEEK_BYTES = 1024  # a refused frame's id is read only from a small frame


async def key_slot_acquire(key_id: str) -> Slot:
    """One of the API key's ``WS_MAX_CONNECTIONS_PER_KEY`` connection slots,
    across every server process; ``release()`` it when the connection ends.
    Raises DomainError(RATE_LIMIT_CONNECTIONS_PER_KEY) when none is free."""
    limit = settings.WS_MAX_CONNECTIONS_PER_KEY
    slot = await connection_slots().acquire("key", key_id, limit)
    if slot is None:
        raise DomainError(
            f"At most {limit} authenticated connections at once per API key.",
            code=ErrorCode.RATE_LIMIT_CONNECTIONS_PER_KEY,
            details={"limit": limit, "scope": "key"},
        )
    return slot


class GuardedConsumerMixin:
    """For an ``AsyncWebsocketConsumer``."""

    _frame_limiter: FrameLimiter | None = None
    _flood_closed = False
    _key_slot: Slot | None = None
    _key_id: str | None = None

    async def frame_refused(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> bool:
        """Count the frame against ``WS_MAX_FRAMES_PER_SECOND`` (bursts of
        ``WS_FRAME_BURST``). True: do not process it; it was answered with
        RATE_LIMIT_EXCEEDED, or the connection is closing (4029, "frame
        flood") because the client kept sending far over the limit."""
        limiter = self._frame_limiter
        if limiter is None:
            limiter = self._frame_limiter = FrameLimiter(
                settings.WS_MAX_FRAMES_PER_SECOND, settings.WS_FRAME_BURST
            )
        verdict = limiter.check()
        if verdict is Verdict.ALLOW:
            return False
        if verdict is Verdict.CLOSE:
            if not self._flood_closed:
                self._flood_closed = True
                log.warning("websocket frame flood; closing %d", CLOSE_TOO_MANY)
                await self.close(code=CLOSE_TOO_MANY, reason="frame flood")  # type: ignore[attr-defined]
            return True
        text = error_frame(
            ErrorCode.RATE_LIMIT_EXCEEDED,
            f"At most {limiter.rate:g} frames a second (bursts of {limiter.burst}).",
            {
                "limit_per_second": limiter.rate,
                "burst": limiter.burst,
                "retry_after_ms": limiter.retry_after_ms(),
            },
            _request_id(text_data),
        )
        await self.send(text_data=text)  # type: ignore[attr-defined]
        return True

    async def key_slot_take(self, key_id: str) -> None:
        """After a successful ``auth`` with ``key_id``: hold one of the key's
        connection slots until the connection ends (re-authenticating with
        another key gives the first one back). Raises DomainError
        (RATE_LIMIT_CONNECTIONS_PER_KEY) when the key has none free: the auth
        fails and the connection stays open, unauthenticated."""
        if self._key_id == key_id:
            return
        slot = await key_slot_acquire(key_id)
        await self.key_slot_release()
        self._key_slot, self._key_id = slot, key_id

    async def key_slot_release(self) -> None:
        slot, self._key_slot, self._key_id = self._key_slot, None, None
        if slot is not None:
            await slot.release()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        try:
            await super().websocket_disconnect(message)  # type: ignore[misc]
        finally:
            await self.key_slot_release()


def _request_id(text: str | None) -> Any:
    """The id of a small JSON request, so its sender knows which was refused."""
    if text is None or len(text) > ID_PEEK_BYTES:
        return None
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    request_id = frame.get("id") if isinstance(frame, dict) else None
    if isinstance(request_id, str) and 1 <= len(request_id) <= 64:
        return request_id
    return None
