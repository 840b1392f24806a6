"""The simulated traders' accounts, API keys and funds (sandbox only).

This is the one place the simulator touches the database, and only for
set-up, like ``apps/accounts/sandbox.py``'s demo seed: it creates the agents'
users through the accounts service, their keys through the apikeys service
(the makers on the market-maker rate tier), and tops their balances up with
faucet deposits, each in the ledger. Trading itself goes through the API.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.accounts.models import LedgerReason, Tier
from apps.accounts.selectors import balances_by_wallet
from apps.accounts.services import account_create, balance_deposit
from apps.apikeys.crypto import decrypt_secret
from apps.apikeys.ip import clean_allowlist
from apps.apikeys.models import MARKET_MAKER_WEIGHT_PER_MINUTE, ApiKey
from apps.apikeys.services import apikey_create, apikey_update
from apps.core.money import parse_units
from apps.markets.models import Pair

from .runner import Credentials

KEY_LABEL = "sandbox simulator"
# The agents' keys' default allow-list: the simulator beside the server it
# trades on. Against a remote sandbox, give the address the server sees
# (``runsimulator --allow-ip``, ``SIMULATOR_ALLOW_IPS``).
LOCAL_IPS = ["127.0.0.1/32", "::1/128"]
# Each agent's balances are topped up to these at every start: far more than
# a ladder needs, so a day of one-sided flow does not empty an account.
FUNDING = {"BTC": "500", "ETH": "10000", "USD": "30000000"}


class NotSandbox(Exception):
    pass


def maker_username(pair: str) -> str:
    return "sim_maker_" + pair.lower().replace("-", "_")


@transaction.atomic
def agents_seed(
    *, pairs: list[str], ip_allowlist: list[str] | None = None
) -> dict[str, Credentials]:
    """Users, keys and funds of every agent: ``maker:<pair>``, ``taker`` and
    ``arbitrageur``. Idempotent; a key is reused (its secret is decrypted:
    sandbox only, like the demo key), its allow-list set to ``ip_allowlist``
    (default ``LOCAL_IPS``). Raises ``ValidationFailed`` for a bad list."""
    allowlist = clean_allowlist(LOCAL_IPS if ip_allowlist is None else ip_allowlist)
    if settings.EXCHANGE_ENV != "sandbox":
        raise NotSandbox("the simulator runs only in the sandbox")
    known = set(Pair.objects.filter(symbol__in=pairs).values_list("symbol", flat=True))
    missing = sorted(set(pairs) - known)
    if missing:
        raise ValueError(f"unknown pairs: {', '.join(missing)}")
    out = {}
    for pair in pairs:
        out[f"maker:{pair}"] = _agent(
            maker_username(pair), market_maker=True, allowlist=allowlist
        )
    out["taker"] = _agent("sim_taker", market_maker=False, allowlist=allowlist)
    out["arbitrageur"] = _agent(
        "sim_arbitrageur", market_maker=True, allowlist=allowlist
    )
    return out


def _agent(username: str, *, market_maker: bool, allowlist: list[str]) -> Credentials:
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        # No password: an agent never logs in to the web.
        user = account_create(username=username, tier=Tier.VERIFIED)
    _top_up(user)
    weight = MARKET_MAKER_WEIGHT_PER_MINUTE if market_maker else None
    key = ApiKey.objects.filter(
        user=user, label=KEY_LABEL, revoked_at__isnull=True
    ).first()
    if key is not None:
        if list(key.ip_allowlist) != allowlist:
            key = apikey_update(api_key=key, ip_allowlist=allowlist)
        return Credentials(key.key, decrypt_secret(key.secret_encrypted))
    key, secret = apikey_create(
        user=user,
        scope="trade",
        label=KEY_LABEL,
        ip_allowlist=allowlist,
        weight_per_minute=weight,
    )
    return Credentials(key.key, secret)


def _top_up(user: AbstractBaseUser) -> None:
    for row in balances_by_wallet(user_id=user.pk)["spot"]:
        if row.asset.code not in FUNDING:
            continue
        target = parse_units(FUNDING[row.asset.code], row.asset.scale, field="fund")
        if row.total < target:
            balance_deposit(
                user=user,
                asset=row.asset,
                amount=target - row.total,
                reason=LedgerReason.FAUCET,
            )
