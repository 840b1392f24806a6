"""A WebSocket connection's signed session (docs/websocket.md, "auth"): who
it is, what it may do, the orders it placed (for cancel-on-disconnect), and
the process's key watcher that ends a session within a second of its key's
revocation or disable.

Order entry goes through ``apps.orders.api.actions``, the same code as REST,
charged to the key's rate-limit budget with the REST weights.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from apps.accounts.models import DEEP_BOOK_TIERS
from apps.accounts.selectors import account_tier_get
from apps.apikeys import errors as key_errors
from apps.apikeys import ratelimit
from apps.apikeys.auth import authenticate_stream
from apps.apikeys.models import ApiKey
from apps.apikeys.permissions import check_scope
from apps.apikeys.selectors import apikeys_current, apikeys_disabled
from apps.core.errors import DomainError, ErrorCode
from apps.markets.stream_wire import BOOK_MAX_DEPTH, BOOK_MAX_DEPTH_VERIFIED
from apps.matching.engine import Reason
from apps.orders import cancels
from apps.orders.api import actions
from apps.orders.models import LIVE_STATUSES, Order

log = logging.getLogger(__name__)


@dataclass(eq=False)
class StreamSession:
    """An authenticated connection."""

    api_key: ApiKey
    tier: str
    cancel_on_disconnect: bool = False
    placed: set[int] = field(default_factory=set)  # order ids, this session's
    # Called (once) when the key stops working: revoked, owner disabled.
    on_end: Callable[[DomainError], Awaitable[None]] | None = None
    ended: bool = False

    @property
    def user_id(self) -> int:
        return self.api_key.user_id

    @property
    def max_depth(self) -> int:
        if self.tier in DEEP_BOOK_TIERS:
            return BOOK_MAX_DEPTH_VERIFIED
        return BOOK_MAX_DEPTH


def session_open(
    *, frame: dict[str, Any], remote_addr: str, forwarded_for: str
) -> StreamSession:
    """Check an ``auth`` frame (signature, nonce, IP allow-list, scope read)
    and open the session."""
    option = frame.get("cancel_on_disconnect", False)
    if not isinstance(option, bool):
        raise DomainError(
            "cancel_on_disconnect must be true or false.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "cancel_on_disconnect"},
        )
    api_key = authenticate_stream(
        fields=frame, remote_addr=remote_addr, forwarded_for=forwarded_for
    )
    return StreamSession(
        api_key, account_tier_get(user_id=api_key.user_id), cancel_on_disconnect=option
    )


def _charge(session: StreamSession, weight: int) -> None:
    check_scope(session.api_key, "trade")
    usage = ratelimit.charge(ratelimit.key_budget(session.api_key), weight)
    if usage.exceeded:
        raise usage.error()


def _remember(session: StreamSession, order: Order | None) -> None:
    if order is not None and order.status in LIVE_STATUSES:
        session.placed.add(order.pk)


def session_place(session: StreamSession, data: Any) -> actions.Answer:
    """``POST /v1/orders`` over the session."""
    _charge(session, actions.PLACE_WEIGHT)
    answer = actions.place(api_key=session.api_key, data=data)
    _remember(session, answer.order)
    return answer


def session_cancel(session: StreamSession, order_ref: Any) -> actions.Answer:
    """``POST /v1/orders/{order_id}/cancel`` over the session."""
    _charge(session, actions.CANCEL_WEIGHT)
    if not isinstance(order_ref, str) or not order_ref:
        raise DomainError(
            "order_id is required: the order's id or client:<client_order_id>.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "order_id"},
        )
    return actions.cancel(user_id=session.user_id, order_ref=order_ref)


def session_cancel_all(session: StreamSession, data: Any) -> actions.Answer:
    """``POST /v1/orders/cancel-all`` over the session."""
    _charge(session, actions.CANCEL_ALL_WEIGHT)
    return actions.cancel_all(user_id=session.user_id, data=data)


def session_close(session: StreamSession) -> int:
    """The connection is gone: with cancel-on-disconnect, queue a cancel for
    each of the session's orders still live, reported with the reason
    ``cancel_on_disconnect``. Returns how many."""
    if not session.cancel_on_disconnect or not session.placed:
        return 0
    live = Order.objects.select_related("pair").filter(
        pk__in=session.placed, status__in=LIVE_STATUSES
    )
    count = 0
    for order in live.order_by("pk"):
        try:
            cancels.order_cancel(order=order, reason=Reason.CANCEL_ON_DISCONNECT)
            count += 1
        except DomainError:  # a halted pair: its book is frozen
            log.warning("cancel-on-disconnect: order %s not cancelled", order.pk)
    return count


class KeyWatcher:
    """One per event loop: re-reads the keys of its sessions every
    ``WS_KEY_CHECK_MS`` with ONE query, ends the sessions whose key stopped
    working, and refreshes the others' scope and limits."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.sessions: set[StreamSession] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, session: StreamSession) -> None:
        self.sessions.add(session)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, session: StreamSession) -> None:
        self.sessions.discard(session)

    async def _run(self) -> None:
        read = database_sync_to_async(apikeys_current)
        while self.sessions:
            await asyncio.sleep(self.period_s)
            # The sessions as of the read: one that authenticates while the
            # read is under way was not asked about (its key is checked at
            # the next period), and must not be taken for revoked.
            checked = list(self.sessions)
            try:
                ids = sorted({s.api_key.pk for s in checked})
                current = await read(ids=ids)
            except Exception:  # noqa: BLE001 - the database away: look again
                log.warning("key watcher: cannot read keys", exc_info=True)
                continue
            gone = [s for s in checked if s.api_key.pk not in current]
            disabled = await self._disabled(gone)
            for session in checked:
                if session not in self.sessions:
                    continue  # its connection ended during the read
                row = current.get(session.api_key.pk)
                if row is None:
                    await self._end(session, disabled=session.api_key.pk in disabled)
                else:
                    key = session.api_key
                    key.scope, key.ip_allowlist = row.scope, row.ip_allowlist
                    key.weight_per_minute = row.weight_per_minute

    async def _disabled(self, gone: list[StreamSession]) -> set[int]:
        """Which of the stopped keys staff disabled (the rest were revoked,
        or their owner was disabled): one more query, only when a key stopped."""
        if not gone:
            return set()
        read = database_sync_to_async(apikeys_disabled)
        try:
            return await read(ids=sorted({s.api_key.pk for s in gone}))
        except Exception:  # noqa: BLE001 - the reason is a courtesy; end anyway
            log.warning("key watcher: cannot read why keys stopped", exc_info=True)
            return set()

    async def _end(self, session: StreamSession, *, disabled: bool = False) -> None:
        self.sessions.discard(session)
        session.ended = True
        error = key_errors.KeyDisabled() if disabled else key_errors.KeyRevoked()
        if session.on_end is not None:
            try:
                await session.on_end(error)
            except Exception:  # noqa: BLE001 - the connection may be gone
                log.warning("key watcher: ending a session failed", exc_info=True)


_watchers: dict[asyncio.AbstractEventLoop, KeyWatcher] = {}


def key_watcher() -> KeyWatcher:
    loop = asyncio.get_running_loop()
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = KeyWatcher(settings.WS_KEY_CHECK_MS / 1000)
    return watcher
