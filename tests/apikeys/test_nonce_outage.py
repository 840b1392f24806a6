"""Without the nonce cache there is no replay protection, so a signed request
is refused (503 SYSTEM_UNAVAILABLE, retryable) before anything is done."""

from __future__ import annotations

import pytest

from apps.apikeys import auth
from apps.apikeys.models import ApiKey
from apps.orders.models import Order, OrderCommand
from exchange.client import signing
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed
from tests.helpers import LIMIT_BUY, USD, bal

pytestmark = pytest.mark.django_db

ACK_BUY = {**LIMIT_BUY, "response_type": "ack"}


@pytest.fixture
def nonce_cache_down(monkeypatch):
    """Make the cache refuse nonce claims (other keys, e.g. rate counters, still
    work, so only replay protection is out). Call it to end the outage."""
    real_add = auth.cache.add
    state = {"down": True}

    def add(key, *args, **kwargs):
        if state["down"] and key.startswith("apikeys:nonce:"):
            raise ConnectionError("cache unreachable")
        return real_add(key, *args, **kwargs)

    monkeypatch.setattr(auth.cache, "add", add)
    return lambda: state.update(down=False)


@pytest.fixture
def key(alice):
    return ApiKeyFactory(user=alice, scope="trade")


def test_a_signed_order_is_refused_with_503_and_not_placed(
    client, funded, alice, key, nonce_cache_down
):
    response = signed(client, key, "POST", "/v1/orders", ACK_BUY)
    assert (response.status_code, error_code(response)) == (503, "SYSTEM_UNAVAILABLE")
    assert response.json()["error"]["retryable"] is True
    assert response["Retry-After"] == "1"
    assert not Order.objects.exists() and not OrderCommand.objects.exists()
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/orders"), ("GET", "/v1/orderbook/BTC-USD")],
)
def test_signed_reads_are_refused_too(
    client, funded, key, nonce_cache_down, method, path
):
    response = signed(client, key, method, path)
    assert (response.status_code, error_code(response)) == (503, "SYSTEM_UNAVAILABLE")


def test_the_public_orderbook_works_unsigned_during_the_outage(
    client, funded, nonce_cache_down
):
    assert client.get("/v1/orderbook/BTC-USD").status_code == 200


def test_after_the_outage_the_same_request_is_accepted_exactly_once(
    client, funded, key, nonce_cache_down
):
    """The refused request claimed no nonce: its retry goes through, and only
    a second copy of the retry is a replay."""
    same = {"timestamp": signing.now_ms(), "nonce": "retry-nonce-1"}
    refused = signed(client, key, "POST", "/v1/orders", ACK_BUY, **same)
    assert refused.status_code == 503
    nonce_cache_down()  # the outage ends
    retry = signed(client, key, "POST", "/v1/orders", ACK_BUY, **same)
    assert retry.status_code == 202, retry.content
    replay = signed(client, key, "POST", "/v1/orders", ACK_BUY, **same)
    assert (replay.status_code, error_code(replay)) == (401, "AUTH_NONCE_REUSED")
    assert Order.objects.count() == 1
