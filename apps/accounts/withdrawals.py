"""Withdrawals: hold on request, then debit (complete) or release (fail).

Built on the money service only, so every balance change has its ledger entry:

    request   available -> held              reason hold        (internal)
    complete  held -> out of the exchange    reason withdrawal  (external)
    fail      held -> available              reason release     (internal)

Lock order, everywhere: the Withdrawal row, then the balance row (through
``balances_apply``). A request inserts a new row nobody else can see yet, so it
only takes the balance lock. In the sandbox a Celery task completes each
withdrawal after a simulated confirmation; in production staff complete or fail
it in the admin.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Wallet, Withdrawal, WithdrawalStatus
from apps.accounts.services import balance_hold, balance_release, balance_withdraw
from apps.core.errors import DomainError, ErrorCode, ValidationFailed
from apps.markets.models import Asset

ADDRESS_RE = re.compile(r"\A[A-Za-z0-9:._-]{8,128}\Z")
# Seconds the sandbox waits before "confirming" a withdrawal on chain.
DEFAULT_SANDBOX_CONFIRM_SECONDS = 10


class WithdrawalsDisabled(DomainError):
    code = ErrorCode.ACCOUNT_WITHDRAWALS_DISABLED


class WithdrawalNotPending(DomainError):
    """Completing or failing a withdrawal that is already final (admin, tasks);
    not reachable from the API."""

    code = ErrorCode.ACCOUNT_WITHDRAWAL_NOT_PENDING


def _ref(withdrawal_uuid: uuid.UUID) -> str:
    return f"withdrawal:{withdrawal_uuid}"


def sandbox_confirm_seconds() -> int:
    return int(
        getattr(
            settings,
            "SANDBOX_WITHDRAWAL_CONFIRM_SECONDS",
            DEFAULT_SANDBOX_CONFIRM_SECONDS,
        )
    )


def _schedule_sandbox_confirmation(withdrawal_id: int) -> None:
    from apps.accounts.tasks import withdrawal_sandbox_confirm

    withdrawal_sandbox_confirm.apply_async(
        args=[withdrawal_id], countdown=sandbox_confirm_seconds()
    )


@transaction.atomic
def withdrawal_request(
    *,
    user: AbstractBaseUser,
    asset: Asset,
    amount: int,
    address: str,
    wallet: str = Wallet.SPOT,
) -> Withdrawal:
    """Hold ``amount`` (minor units) in the user's ``wallet`` and record a pending
    withdrawal to ``address``, in one transaction.

    Locks the one balance row (via ``balance_hold``). Raises
    ACCOUNT_WITHDRAWALS_DISABLED when the asset's withdrawals are off,
    ACCOUNT_INSUFFICIENT_FUNDS when available is short, VALIDATION_ERROR for a
    non-positive amount, an unknown wallet or a malformed address. In the
    sandbox, a confirmation task is queued once the transaction commits.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed("amount must be positive.", details={"field": "amount"})
    if wallet not in Wallet.values:
        raise ValidationFailed(
            f"Unknown wallet {wallet!r}.", details={"field": "wallet"}
        )
    if not isinstance(address, str) or not ADDRESS_RE.match(address):
        raise ValidationFailed(
            "address must be 8-128 characters of [A-Za-z0-9:._-].",
            details={"field": "address"},
        )
    if not asset.withdraw_enabled:
        raise WithdrawalsDisabled(
            f"Withdrawals of {asset.code} are disabled.", details={"asset": asset.code}
        )
    withdrawal = Withdrawal.objects.create(
        user=user, asset=asset, wallet=wallet, amount=amount, address=address
    )
    balance_hold(
        user=user, asset=asset, amount=amount, wallet=wallet, ref=_ref(withdrawal.uuid)
    )
    if settings.EXCHANGE_ENV == "sandbox":
        # robust: the withdrawal is committed whatever happens to the scheduling
        # (a broker outage, or an eager run raising) and stays pending for retry.
        transaction.on_commit(
            lambda: _schedule_sandbox_confirmation(withdrawal.pk), robust=True
        )
    return withdrawal


def _lock_pending(withdrawal_id: int) -> Withdrawal:
    """The withdrawal, locked FOR UPDATE, if it is still pending; else
    WithdrawalNotPending (so nothing is ever debited or released twice)."""
    withdrawal = (
        Withdrawal.objects.select_for_update()
        .select_related("asset", "user")
        .filter(pk=withdrawal_id)
        .first()
    )
    if withdrawal is None:
        raise DomainError(
            "No such withdrawal.",
            code=ErrorCode.ACCOUNT_WITHDRAWAL_NOT_FOUND,
            details={"withdrawal_id": withdrawal_id},
        )
    if withdrawal.status == WithdrawalStatus.PENDING:
        return withdrawal
    raise WithdrawalNotPending(
        f"Withdrawal {withdrawal.uuid} is {withdrawal.status}, not pending.",
        details={"withdrawal_id": str(withdrawal.uuid), "status": withdrawal.status},
    )


@transaction.atomic
def withdrawal_complete(*, withdrawal_id: int, txid: str = "") -> Withdrawal:
    """Debit the held amount (reason withdrawal) and mark it completed.

    Locks the Withdrawal row, then the balance row. Raises WithdrawalNotPending
    if it is not pending (a second completion does not debit twice).
    """
    withdrawal = _lock_pending(withdrawal_id)
    balance_withdraw(
        user=withdrawal.user,
        asset=withdrawal.asset,
        amount=withdrawal.amount,
        wallet=withdrawal.wallet,
        ref=_ref(withdrawal.uuid),
        from_held=True,
    )
    withdrawal.status = WithdrawalStatus.COMPLETED
    withdrawal.txid = txid[:128]
    withdrawal.done_at = timezone.now()
    withdrawal.save(update_fields=["status", "txid", "done_at", "updated_at"])
    return withdrawal


@transaction.atomic
def withdrawal_fail(*, withdrawal_id: int, reason: str) -> Withdrawal:
    """Release the held amount back to available and mark it failed with
    ``reason``. Locks the Withdrawal row, then the balance row. Raises
    WithdrawalNotPending if it is not pending."""
    if not reason.strip():
        raise ValidationFailed("A failed withdrawal needs a reason.")
    withdrawal = _lock_pending(withdrawal_id)
    balance_release(
        user=withdrawal.user,
        asset=withdrawal.asset,
        amount=withdrawal.amount,
        wallet=withdrawal.wallet,
        ref=_ref(withdrawal.uuid),
    )
    withdrawal.status = WithdrawalStatus.FAILED
    withdrawal.failure_reason = reason.strip()[:128]
    withdrawal.done_at = timezone.now()
    withdrawal.save(update_fields=["status", "failure_reason", "done_at", "updated_at"])
    return withdrawal
