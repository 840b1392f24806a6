"""The sandbox's demo account, funded from the faucet (EXCHANGE_ENV=sandbox;
``runexchange`` seeds it)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.accounts.models import LedgerReason, Tier
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
    for asset in Asset.objects.filter(code__in=SANDBOX_FAUCET):
        amount = parse_units(SANDBOX_FAUCET[asset.code], asset.scale, field="faucet")
        balance_deposit(
            user=user, asset=asset, amount=amount, reason=LedgerReason.FAUCET
        )
    return user
