"""Background jobs of the accounts app (Celery; eager without REDIS_URL)."""

from __future__ import annotations

import hashlib
import logging

from celery import shared_task
from django.conf import settings

from apps.accounts.withdrawals import WithdrawalNotPending, withdrawal_complete

log = logging.getLogger(__name__)


def sandbox_txid(withdrawal_id: int) -> str:
    """A deterministic fake transaction hash, marked as simulated."""
    digest = hashlib.sha256(f"sandbox-withdrawal:{withdrawal_id}".encode()).hexdigest()
    return f"sandbox:{digest}"


@shared_task(name="accounts.withdrawal_sandbox_confirm")
def withdrawal_sandbox_confirm(withdrawal_id: int) -> str:
    """The sandbox's simulated chain confirmation: complete the withdrawal.

    Idempotent: a withdrawal that is no longer pending (completed by an earlier
    run, failed by staff) is left alone. Never runs in production, where staff
    complete withdrawals in the admin.
    """
    if settings.EXCHANGE_ENV != "sandbox":
        log.warning(
            "sandbox confirmation of withdrawal %s skipped outside the sandbox",
            withdrawal_id,
        )
        return "skipped"
    try:
        withdrawal_complete(
            withdrawal_id=withdrawal_id, txid=sandbox_txid(withdrawal_id)
        )
    except WithdrawalNotPending:
        return "not_pending"
    return "completed"
