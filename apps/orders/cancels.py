"""Cancels on the API side: one order, all of a user's, and the dead-man
switch (cancel-all-after) that the matcher's housekeeping fires.

Like a placement, a cancel is only queued here (an OrderCommand, idempotent
while one is pending); the matcher applies it in order and releases the hold.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.apikeys.models import ApiKey
from apps.core.errors import DomainError, ErrorCode
from apps.markets.models import Pair, PairStatus
from apps.matching.engine import Reason
from apps.orders import bus
from apps.orders.models import (
    FINAL_STATUSES,
    LIVE_STATUSES,
    CancelAllAfter,
    CommandKind,
    Order,
    OrderCommand,
    OrderStatus,
)
from apps.orders.services import check_pair_accepts

CANCEL_RESULTS = {
    OrderStatus.CANCELLED: "already_cancelled",
    OrderStatus.FILLED: "already_filled",
    OrderStatus.REJECTED: "already_rejected",
}


def order_cancel(*, order: Order, reason: Reason = Reason.USER_CANCELLED) -> str:
    """Queue a cancel for ``order`` (idempotent). Returns the cancel_result for
    an order that is already final, else "requested". Refused while halted.
    ``reason``: what the cancelled order reports (one of the engine's
    ``CANCEL_REQUESTED``); a cancel already queued keeps its own."""
    if order.status in FINAL_STATUSES:
        return CANCEL_RESULTS[OrderStatus(order.status)]
    pair = order.pair
    check_pair_accepts(pair, CommandKind.CANCEL)
    with transaction.atomic():
        already = OrderCommand.objects.filter(
            order=order, kind=CommandKind.CANCEL, processed_at__isnull=True
        ).exists()
        if not already:
            OrderCommand.objects.create(
                pair=pair,
                kind=CommandKind.CANCEL,
                order=order,
                cancel_reason=_stored_reason(reason),
            )
            bus.wake_matcher(pair.pk)
    return "requested"


def _stored_reason(reason: Reason) -> str:
    """``OrderCommand.cancel_reason``: empty for the common user cancel."""
    return "" if reason is Reason.USER_CANCELLED else reason.value


def orders_cancel_all(
    *,
    user: AbstractBaseUser | int,
    pair: Pair | None = None,
    api_key: ApiKey | None = None,
    reason: Reason = Reason.USER_CANCELLED,
) -> list[Order]:
    """Queue a cancel for each of the user's live orders (optionally one pair's,
    or one key's). Pairs that are halted are skipped (their books are frozen).
    ``reason`` as in ``order_cancel``."""
    qs = Order.objects.select_related("pair").filter(
        user=user, status__in=LIVE_STATUSES
    )
    if pair is not None:
        qs = qs.filter(pair=pair)
    if api_key is not None:
        qs = qs.filter(api_key=api_key)
    requested = []
    for order in qs.order_by("pk"):
        if order.pair.status == PairStatus.HALTED:
            continue
        order_cancel(order=order, reason=reason)
        requested.append(order)
    return requested


MIN_DEADMAN_S = 5


def cancel_all_after_set(*, api_key: ApiKey, timeout_s: int) -> CancelAllAfter | None:
    """Arm (or refresh) the key's dead-man timer for ``timeout_s`` seconds from
    now; 0 disarms it. Returns the armed timer or None."""
    if timeout_s == 0:
        CancelAllAfter.objects.filter(api_key=api_key).delete()
        return None
    if timeout_s < MIN_DEADMAN_S:
        raise DomainError(
            f"timeout_s must be 0 or at least {MIN_DEADMAN_S}.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"field": "timeout_s"},
        )
    timer, _ = CancelAllAfter.objects.update_or_create(
        api_key=api_key,
        defaults={"deadline": timezone.now() + timedelta(seconds=timeout_s)},
    )
    return timer


def cancel_all_after_fire(*, now: datetime | None = None) -> int:
    """Cancel the live orders of every key whose timer expired, then disarm
    it. Run by the matcher's housekeeping about once a second. The orders
    report the reason ``dead_man_switch``, not ``user_cancelled``."""
    now = now or timezone.now()
    fired = 0
    for timer in CancelAllAfter.objects.select_related("api_key__user").filter(
        deadline__lte=now
    ):
        with transaction.atomic():
            # Re-check under a lock: a refresh may have landed meanwhile.
            live = CancelAllAfter.objects.select_for_update().filter(
                pk=timer.pk, deadline__lte=now
            )
            if not live.exists():
                continue
            orders_cancel_all(
                user=timer.api_key.user,
                api_key=timer.api_key,
                reason=Reason.DEAD_MAN_SWITCH,
            )
            fired += 1
            frozen = Order.objects.filter(
                api_key=timer.api_key,
                status__in=LIVE_STATUSES,
                pair__status=PairStatus.HALTED,
            ).exists()
            if not frozen:
                live.delete()
            # else: stay armed; orders on a halted pair are cancelled once it
            # resumes (queued cancels are idempotent).
    return fired
