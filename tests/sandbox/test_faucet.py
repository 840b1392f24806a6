"""POST /v1/sandbox/faucet (docs/sandbox.md, "Faucet")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apps.accounts.faucet import FaucetDisabled, faucet_claim, faucet_claims_today
from apps.accounts.models import LedgerEntry, LedgerReason
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed
from tests.helpers import BTC, USD, bal

pytestmark = pytest.mark.django_db

URL = "/v1/sandbox/faucet"


@pytest.fixture
def assets(btc, usd):
    return btc, usd


def claim(client, key, payload=None):
    return signed(client, key, "POST", URL, payload)


def test_faucet_without_body_tops_up_every_faucet_asset(
    client, assets, alice, trade_key, assert_ledger
):
    response = claim(client, trade_key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["credited"] == [
        {
            "asset": "BTC",
            "amount": "1.00000000",
            "wallet": "spot",
            "available": "1.00000000",
        },
        {
            "asset": "USD",
            "amount": "100000.000000",
            "wallet": "spot",
            "available": "100000.000000",
        },
    ]
    assert (body["claims_today"], body["claims_per_day"]) == (1, 10)
    assert body["resets_at"].endswith("T00:00:00Z")
    assert bal(alice, assets[0]) == (1 * BTC, 0)
    entries = LedgerEntry.objects.filter(user=alice)
    assert {e.reason for e in entries} == {LedgerReason.FAUCET}
    assert len({e.ref for e in entries}) == 1  # one claim, one ref
    assert_ledger()


def test_faucet_credits_the_asked_amount_of_one_asset(
    client, assets, alice, trade_key, assert_ledger
):
    response = claim(client, trade_key, {"asset": "usd", "amount": "2500.5"})
    assert response.status_code == 200, response.content
    assert response.json()["credited"][0]["amount"] == "2500.500000"
    assert bal(alice, assets[1]) == (2_500_500_000, 0)
    assert_ledger()


@pytest.mark.parametrize(
    "payload, status, code",
    [
        (
            {"asset": "BTC", "amount": "10.00000001"},
            400,
            "ACCOUNT_FAUCET_CAP_EXCEEDED",
        ),
        ({"asset": "DOGE", "amount": "1"}, 404, "ACCOUNT_ASSET_NOT_FOUND"),
        ({"amount": "1"}, 400, "VALIDATION_ERROR"),
        ({"asset": "BTC", "amount": "0"}, 400, "VALIDATION_ERROR"),
        ({"asset": "BTC", "amount": 1}, 400, "VALIDATION_INVALID_DECIMAL"),
        (
            {"asset": "BTC", "amount": "0.000000001"},
            400,
            "VALIDATION_TOO_MANY_DECIMALS",
        ),
        ({"asset": "BTC", "wallet": "spot"}, 400, "VALIDATION_UNKNOWN_FIELD"),
    ],
)
def test_faucet_refuses_bad_claims_and_credits_nothing(
    client, assets, alice, trade_key, payload, status, code
):
    response = claim(client, trade_key, payload)
    assert response.status_code == status
    assert error_code(response) == code
    assert not LedgerEntry.objects.filter(user=alice).exists()


def test_an_existing_asset_without_a_faucet_cap_is_refused(
    client, assets, alice, trade_key
):
    from tests.factories import AssetFactory

    AssetFactory(code="SOL", name="Solana", scale=8)
    response = claim(client, trade_key, {"asset": "SOL", "amount": "1"})
    assert error_code(response) == "ACCOUNT_FAUCET_CAP_EXCEEDED"
    assert response.json()["error"]["details"] == {"asset": "SOL", "cap": "0"}


def test_faucet_needs_a_trade_key(client, assets, read_key):
    response = claim(client, read_key)
    assert response.status_code == 403
    assert error_code(response) == "PERMISSION_SCOPE_MISSING"


def test_faucet_is_limited_per_account_per_day_with_the_reset_in_details(
    client, assets, alice, bob, trade_key, settings, assert_ledger
):
    settings.SANDBOX_FAUCET_CLAIMS_PER_DAY = 2
    assert claim(client, trade_key).status_code == 200
    assert claim(client, trade_key, {"asset": "BTC"}).status_code == 200
    refused = claim(client, trade_key, {"asset": "BTC", "amount": "1"})
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMIT_FAUCET_DAILY" and error["retryable"]
    midnight = datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    assert error["details"]["resets_at"] == midnight.isoformat().replace("+00:00", "Z")
    assert error["details"]["limit"] == 2 and error["details"]["used"] == 2
    assert 0 < int(refused["Retry-After"]) <= 86_400
    assert bal(alice, assets[0]) == (2 * BTC, 0)  # the refused claim added nothing
    # Per account: bob's key still gets his.
    bob_key = ApiKeyFactory(user=bob, scope="trade")
    assert claim(client, bob_key).status_code == 200
    assert_ledger()


def test_the_days_count_restarts_at_midnight_utc(assets, alice, settings):
    settings.SANDBOX_FAUCET_CLAIMS_PER_DAY = 1
    faucet_claim(user=alice)
    assert faucet_claims_today(user=alice) == 1
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert faucet_claims_today(user=alice, now=tomorrow) == 0
    assert faucet_claim(user=alice, now=tomorrow).claims_today == 1


def test_signup_and_demo_funding_do_not_count_as_claims(assets, alice):
    from apps.accounts.services import balance_deposit

    balance_deposit(user=alice, asset=assets[0], amount=BTC, reason=LedgerReason.FAUCET)
    assert faucet_claims_today(user=alice) == 0


def test_in_production_the_route_does_not_exist(client, assets, alice, production):
    key = ApiKeyFactory(user=alice, scope="trade")
    assert key.key.startswith("hkt_live_")
    response = claim(client, key)
    assert response.status_code == 404
    assert error_code(response) == "NOT_FOUND"
    assert not LedgerEntry.objects.exists()


def test_in_production_the_faucet_service_refuses_to_run(assets, alice, production):
    with pytest.raises(FaucetDisabled):
        faucet_claim(user=alice)
    assert not LedgerEntry.objects.exists()


def test_the_route_is_back_in_the_sandbox(client, assets, trade_key, assert_ledger):
    """The production fixture restores the sandbox URLconf."""
    assert claim(client, trade_key).status_code == 200
    assert USD  # the helpers' units
    assert_ledger()
