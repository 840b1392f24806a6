"""The account's tier drives the rate tier of its keys: a market maker's
keys get the market-maker budget (6,000 weight a minute), back to retail
(1,200) when the account stops being one; custom budgets set by staff stay."""

from __future__ import annotations

import pytest

from apps.accounts.models import Tier
from apps.accounts.services import account_get, account_set_tier
from apps.apikeys.models import (
    MARKET_MAKER_WEIGHT_PER_MINUTE as MM,
)
from apps.apikeys.models import (
    RETAIL_WEIGHT_PER_MINUTE as RETAIL,
)
from apps.apikeys.models import ApiKey, ApiKeyChange
from apps.apikeys.services import apikey_revoke
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _weights(user) -> list[int]:
    return list(
        ApiKey.objects.filter(user=user)
        .order_by("pk")
        .values_list("weight_per_minute", flat=True)
    )


def test_becoming_a_market_maker_raises_the_keys_and_back(alice):
    staff = UserFactory(username="operator", is_staff=True)
    retail = [ApiKeyFactory(user=alice, scope="read") for _ in range(2)]
    custom = ApiKeyFactory(user=alice, scope="read", weight_per_minute=3_000)
    revoked = apikey_revoke(api_key=ApiKeyFactory(user=alice, scope="read"))
    account_set_tier(user=alice, tier=Tier.MARKET_MAKER, actor=staff, ip="10.0.0.7")
    assert _weights(alice) == [MM, MM, 3_000, RETAIL]
    raised = ApiKeyChange.objects.filter(action="updated", api_key__in=retail)
    assert {(c.actor, c.by_staff, c.ip) for c in raised} == {(staff, True, "10.0.0.7")}
    assert not ApiKeyChange.objects.filter(action="updated", api_key=custom).exists()
    assert revoked.weight_per_minute == RETAIL
    account_set_tier(user=alice, tier=Tier.VERIFIED, actor=staff)
    assert _weights(alice) == [RETAIL, RETAIL, 3_000, RETAIL]


def test_a_tier_change_that_keeps_market_maker_status_moves_nothing(alice):
    ApiKeyFactory(user=alice, scope="read")
    account_set_tier(user=alice, tier=Tier.VERIFIED)
    account_set_tier(user=alice, tier=Tier.UNVERIFIED)
    assert _weights(alice) == [RETAIL]


def test_the_next_signed_request_has_the_market_maker_budget(client, alice):
    key = ApiKeyFactory(user=alice, scope="read")
    before = signed(client, key, "GET", "/v1/account/balances")
    assert before["X-RateLimit-Limit"] == str(RETAIL)
    account_set_tier(user=alice, tier=Tier.MARKET_MAKER)
    after = signed(client, key, "GET", "/v1/account/balances")
    assert after["X-RateLimit-Limit"] == str(MM)


def test_a_market_makers_new_key_from_the_web_page_starts_at_its_tier(client, alice):
    account_set_tier(user=alice, tier=Tier.MARKET_MAKER)
    client.force_login(alice)
    client.post(
        "/settings/api-keys/",
        {"label": "mm", "scope": "read", "ip_allowlist": "", "drift_ms": "5000"},
    )
    assert _weights(alice) == [MM]


def test_the_admin_action_moves_the_keys_and_records_staff(client, alice):
    key = ApiKeyFactory(user=alice, scope="read")
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(
        "/admin/accounts/account/",
        {
            "action": "set_market_maker",
            "_selected_action": [account_get(user=alice).pk],
        },
        REMOTE_ADDR="10.9.8.7",
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.weight_per_minute == MM
    change = ApiKeyChange.objects.get(api_key=key, action="updated")
    assert (change.actor, change.by_staff, change.ip) == (staff, True, "10.9.8.7")
