"""The sandbox faucet: testnet funds for any account, a few times a day.

Sandbox only (``EXCHANGE_ENV=sandbox``): in production the route does not
exist (exchange/api_urls.py) and ``faucet_claim`` refuses to run, so no code
path can mint funds there. Each claim credits the spot wallet through the
money service with ``LedgerReason.FAUCET`` entries that share one ref,
``faucet:<claim uuid>``; the day's claims are counted from those entries, so
the ledger is the only record (docs/sandbox.md, "Faucet").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account, Balance, LedgerEntry, LedgerReason, Wallet
from apps.accounts.services import account_get, balance_deposit
from apps.core.api.formats import iso_utc
from apps.core.errors import DomainError, ErrorCode
from apps.core.money import parse_units
from apps.markets.models import Asset

# Per-asset cap of one claim, and what a claim without a body credits (whole
# units, decimal strings). Operators may override both with settings of the
# same names (SANDBOX_FAUCET_CAPS, SANDBOX_FAUCET_TOP_UP).
FAUCET_CAPS = {"BTC": "10", "ETH": "200", "USD": "1000000"}
FAUCET_TOP_UP = {"BTC": "1", "ETH": "20", "USD": "100000"}
DEFAULT_CLAIMS_PER_DAY = 10
REF_PREFIX = "faucet:"


class FaucetDisabled(RuntimeError):
    """The faucet was called outside the sandbox: a bug, never an answer."""


class FaucetLimitReached(DomainError):
    code = ErrorCode.RATE_LIMIT_FAUCET_DAILY


class FaucetCapExceeded(DomainError):
    code = ErrorCode.ACCOUNT_FAUCET_CAP_EXCEEDED


@dataclass(frozen=True, slots=True)
class FaucetClaim:
    """One claim: the credited (asset, amount, balance after), the account's
    claims in this UTC day (this one included), the limit and the reset."""

    credited: list[tuple[Asset, int, Balance]]
    claims_today: int
    claims_per_day: int
    resets_at: datetime


def faucet_enabled() -> bool:
    return settings.EXCHANGE_ENV == "sandbox"


def _require_sandbox() -> None:
    if not faucet_enabled():
        raise FaucetDisabled(
            f"the faucet runs only in the sandbox, not in {settings.EXCHANGE_ENV}"
        )


def faucet_caps() -> Mapping[str, str]:
    return getattr(settings, "SANDBOX_FAUCET_CAPS", None) or FAUCET_CAPS


def faucet_top_up() -> Mapping[str, str]:
    return getattr(settings, "SANDBOX_FAUCET_TOP_UP", None) or FAUCET_TOP_UP


def claims_per_day() -> int:
    return int(getattr(settings, "SANDBOX_FAUCET_CLAIMS_PER_DAY", None) or 0) or (
        DEFAULT_CLAIMS_PER_DAY
    )


def _day_window(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def faucet_claims_today(*, user: AbstractBaseUser, now: datetime | None = None) -> int:
    """How many faucet claims ``user`` made since 00:00 UTC."""
    start, _ = _day_window(now or timezone.now())
    return (
        LedgerEntry.objects.filter(
            user=user,
            reason=LedgerReason.FAUCET,
            ref__startswith=REF_PREFIX,
            created_at__gte=start,
        )
        .values("ref")
        .distinct()
        .count()
    )


def faucet_amounts(
    *, asset: Asset | None, amount: str | None, assets: list[Asset]
) -> list[tuple[Asset, int]]:
    """What a claim credits: ``amount`` of ``asset`` (at most its cap), or the
    default top-up of every faucet asset in ``assets`` when ``asset`` is None.
    ``assets``: the faucet's assets (``Asset`` rows of the caps' codes)."""
    caps = faucet_caps()
    if asset is None:
        top_up = faucet_top_up()
        return [
            (a, parse_units(top_up[a.code], a.scale, field="amount"))
            for a in assets
            if a.code in top_up
        ]
    if asset.code not in caps:
        raise FaucetCapExceeded(
            f"The faucet does not dispense {asset.code}; it dispenses "
            f"{', '.join(sorted(caps))}.",
            details={"asset": asset.code, "cap": "0"},
        )
    cap = parse_units(caps[asset.code], asset.scale, field="cap")
    units = (
        parse_units(amount, asset.scale, field="amount")
        if amount is not None
        else parse_units(
            faucet_top_up().get(asset.code, caps[asset.code]),
            asset.scale,
            field="amount",
        )
    )
    if units <= 0:
        raise DomainError(
            "amount must be above zero.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"fields": {"amount": ["amount must be above zero."]}},
        )
    if units > cap:
        raise FaucetCapExceeded(
            f"One claim gives at most {caps[asset.code]} {asset.code}.",
            details={"asset": asset.code, "cap": caps[asset.code]},
        )
    return [(asset, units)]


@transaction.atomic
def faucet_claim(
    *,
    user: AbstractBaseUser,
    asset: Asset | None = None,
    amount: str | None = None,
    now: datetime | None = None,
) -> FaucetClaim:
    """Credit testnet funds to ``user``'s spot wallet (sandbox only).

    ``asset`` and ``amount`` (decimal string, at most the asset's cap) credit
    one asset; ``asset`` alone its default top-up; neither the default top-up
    of every faucet asset. At most ``claims_per_day()`` claims per account per
    UTC day (RATE_LIMIT_FAUCET_DAILY, with the reset in details). Locks the
    user's Account row first, so two racing claims are counted one after the
    other, then each credited balance row (through ``balance_deposit``).
    """
    _require_sandbox()
    now = now or timezone.now()
    account_get(user=user)
    Account.objects.select_for_update().filter(user=user).get()
    limit = claims_per_day()
    used = faucet_claims_today(user=user, now=now)
    _, resets_at = _day_window(now)
    if used >= limit:
        retry_after = max(1, int((resets_at - now).total_seconds()))
        when = iso_utc(resets_at, "seconds")
        raise FaucetLimitReached(
            f"The faucet gives {limit} claims a day per account; the next one "
            f"is possible at {when}.",
            details={
                "limit": limit,
                "used": used,
                "resets_at": when,
                "retry_after": retry_after,
            },
            headers={"Retry-After": str(retry_after)},
        )
    assets = list(Asset.objects.filter(code__in=list(faucet_caps())).order_by("code"))
    ref = f"{REF_PREFIX}{uuid.uuid4().hex}"
    credited = [
        (
            a,
            units,
            balance_deposit(
                user=user,
                asset=a,
                amount=units,
                wallet=Wallet.SPOT,
                reason=LedgerReason.FAUCET,
                ref=ref,
            ),
        )
        for a, units in faucet_amounts(asset=asset, amount=amount, assets=assets)
    ]
    return FaucetClaim(credited, used + 1, limit, resets_at)
