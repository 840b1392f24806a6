"""Sandbox accounts funded from the faucet: the demo account (``runexchange``
seeds it) and accounts made by web sign-up (EXCHANGE_ENV=sandbox funds them;
production, where sign-up may be switched on, does not)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.accounts.models import Account, LedgerReason, Tier
from apps.accounts.services import account_create, account_get, balance_deposit
from apps.core.money import parse_units
from apps.markets.models import Asset

SANDBOX_FAUCET = {"BTC": "10", "ETH": "200", "USD": "1000000"}


@transaction.atomic
def demo_account_seed(
    *, username: str = "demo", password: str = "demo"
) -> AbstractBaseUser:
    """The sandbox demo account, funded once from the faucet. Idempotent: a
    second call finds the user and adds nothing."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        account_get(user=user)
        return user
    user = account_create(username=username, password=password, tier=Tier.VERIFIED)
    sandbox_account_fund(user=user)
    return user


def sandbox_account_fund(*, user: AbstractBaseUser) -> list[tuple[Asset, int]]:
    """Credit a new sandbox account its starting funds (SANDBOX_FAUCET, as
    faucet ledger entries). Sandbox only: raises RuntimeError elsewhere.
    Locks each credited balance row."""
    if settings.EXCHANGE_ENV != "sandbox":
        raise RuntimeError("sandbox funding runs only in the sandbox")
    credited = []
    for asset in Asset.objects.filter(code__in=SANDBOX_FAUCET).order_by("code"):
        amount = parse_units(SANDBOX_FAUCET[asset.code], asset.scale, field="faucet")
        balance_deposit(
            user=user, asset=asset, amount=amount, reason=LedgerReason.FAUCET
        )
        credited.append((asset, amount))
    return credited


@transaction.atomic
def account_sign_up(
    *, username: str, password: str, email: str = ""
) -> tuple[AbstractBaseUser, list[tuple[Asset, int]]]:
    """A web sign-up: the user and its account, funded like the demo account
    in the sandbox (``(user, credited)``; nothing credited in production).
    The caller checks that sign-up is open (SIGNUP_ENABLED)."""
    user = account_create(
        username=username,
        password=password,
        email=email,
        tier=Tier.VERIFIED if settings.EXCHANGE_ENV == "sandbox" else Tier.UNVERIFIED,
    )
    credited = (
        sandbox_account_fund(user=user) if settings.EXCHANGE_ENV == "sandbox" else []
    )
    return user, credited


HOUSE_USERNAME = "sandbox-house"


def sandbox_house_user() -> AbstractBaseUser:
    """The sandbox's house liquidity account (a system account, no login):
    it rests the counter-orders of fault-injection scenarios, funded by
    faucet entries. Created on first use."""
    if settings.EXCHANGE_ENV != "sandbox":
        raise RuntimeError("the house account exists only in the sandbox")
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=HOUSE_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Account.objects.get_or_create(user=user, defaults={"is_system": True})
    return user
