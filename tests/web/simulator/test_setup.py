"""The simulated traders' set-up (sandbox only): keys, allow-lists, funds."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from apps.apikeys.ip import clean_allowlist
from apps.apikeys.models import ApiKey
from apps.markets.services import markets_seed
from apps.web.simulator.setup import LOCAL_IPS, agents_seed

pytestmark = pytest.mark.django_db

PAIRS = ["BTC-USD", "ETH-USD", "ETH-BTC"]


def agent_keys() -> list[ApiKey]:
    return list(ApiKey.objects.filter(user__username__startswith="sim_"))


def test_agents_keys_allow_loopback_by_default():
    markets_seed()
    creds = agents_seed(pairs=PAIRS)
    assert set(creds) == {*(f"maker:{p}" for p in PAIRS), "taker", "arbitrageur"}
    keys = agent_keys()
    assert len(keys) == 5
    assert all(k.ip_allowlist == clean_allowlist(LOCAL_IPS) for k in keys)
    assert clean_allowlist(LOCAL_IPS) == ["127.0.0.1", "::1"]


def test_agents_seed_sets_the_given_allowlist_on_existing_keys():
    markets_seed()
    first = agents_seed(pairs=PAIRS)
    again = agents_seed(pairs=PAIRS, ip_allowlist=["10.1.2.3", "192.168.0.0/16"])
    # The same keys (and secrets), now allowed from the remote addresses only.
    assert again == first
    assert {tuple(k.ip_allowlist) for k in agent_keys()} == {
        ("10.1.2.3", "192.168.0.0/16")
    }


def test_runsimulator_rejects_a_bad_allowlist_before_trading():
    markets_seed()
    with pytest.raises(CommandError, match="--allow-ip"):
        call_command("runsimulator", "--allow-ip", "not-an-address", "--duration", "1")
    with pytest.raises(CommandError, match="--allow-ip"):
        call_command("runsimulator", "--allow-ip", "0.0.0.0/0", "--duration", "1")
    assert not agent_keys()
