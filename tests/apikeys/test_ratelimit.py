from __future__ import annotations

import pytest
from django.test import RequestFactory
from django_ratelimit.core import get_usage

from apps.apikeys import ratelimit
from apps.apikeys.services import apikey_update
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.apikeys.urls")]

HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Cost",
)


def test_every_signed_response_carries_the_rate_limit_headers(
    client, read_key, rl_clock
):
    response = signed(client, read_key, "GET", "/v1/test/read")
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "1200"
    assert response["X-RateLimit-Remaining"] == "1199"
    assert response["X-RateLimit-Cost"] == "1"
    reset = int(response["X-RateLimit-Reset"])
    assert rl_clock.now < reset <= rl_clock.now + 60


def test_weights_of_different_endpoints_are_summed(client, alice, rl_clock):
    api_key = ApiKeyFactory(user=alice, scope="trade", weight_per_minute=12)
    assert (
        signed(client, api_key, "GET", "/v1/test/trade")["X-RateLimit-Remaining"] == "7"
    )
    assert (
        signed(client, api_key, "GET", "/v1/test/read")["X-RateLimit-Remaining"] == "6"
    )
    response = signed(client, api_key, "GET", "/v1/test/trade")
    assert response["X-RateLimit-Remaining"] == "1"
    assert response["X-RateLimit-Cost"] == "5"


def test_over_budget_is_429_with_retry_after_details_and_headers(
    client, alice, rl_clock
):
    api_key = ApiKeyFactory(user=alice, scope="trade", weight_per_minute=12)
    signed(client, api_key, "GET", "/v1/test/trade")
    signed(client, api_key, "GET", "/v1/test/trade")
    response = signed(client, api_key, "GET", "/v1/test/trade")  # 15 > 12
    assert response.status_code == 429
    body = response.json()["error"]
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert body["retryable"] is True
    reset = int(response["X-RateLimit-Reset"])
    retry_after = int(response["Retry-After"])
    assert retry_after == max(1, reset - rl_clock.now)
    assert body["details"] == {
        "scope": "key",
        "limit": 12,
        "remaining": 2,
        "cost": 5,
        "reset": reset,
        "retry_after": retry_after,
    }
    assert [response[h] for h in HEADERS] == ["12", "2", str(reset), "5"]


def test_refused_call_is_not_charged_so_lighter_calls_still_fit(
    client, alice, rl_clock
):
    api_key = ApiKeyFactory(user=alice, scope="trade", weight_per_minute=12)
    signed(client, api_key, "GET", "/v1/test/trade")
    signed(client, api_key, "GET", "/v1/test/trade")
    assert signed(client, api_key, "GET", "/v1/test/trade").status_code == 429
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 200
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 200
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 429


def test_budget_returns_when_the_window_ends(client, alice, rl_clock):
    api_key = ApiKeyFactory(user=alice, weight_per_minute=1)
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 200
    refused = signed(client, api_key, "GET", "/v1/test/read")
    assert refused.status_code == 429
    rl_clock.advance(int(refused["Retry-After"]) - 1)
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 429
    rl_clock.advance(1)
    assert rl_clock.now == int(refused["X-RateLimit-Reset"])
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 200


def test_market_maker_tier_has_a_higher_budget(client, alice, rl_clock):
    retail = ApiKeyFactory(user=alice, scope="trade")
    maker = ApiKeyFactory(user=alice, scope="trade", weight_per_minute=6_000)
    assert (
        signed(client, retail, "GET", "/v1/test/trade")["X-RateLimit-Limit"] == "1200"
    )
    response = signed(client, maker, "GET", "/v1/test/trade")
    assert response["X-RateLimit-Limit"] == "6000"
    assert response["X-RateLimit-Remaining"] == "5995"


def test_tier_change_takes_effect_on_the_next_request(client, read_key, rl_clock):
    signed(client, read_key, "GET", "/v1/test/read")
    apikey_update(api_key=read_key, weight_per_minute=6_000)
    assert (
        signed(client, read_key, "GET", "/v1/test/read")["X-RateLimit-Limit"] == "6000"
    )


def test_keys_have_separate_budgets(client, alice, bob, rl_clock):
    first = ApiKeyFactory(user=alice, weight_per_minute=1)
    second = ApiKeyFactory(user=bob, weight_per_minute=1)
    assert signed(client, first, "GET", "/v1/test/read").status_code == 200
    assert signed(client, first, "GET", "/v1/test/read").status_code == 429
    assert signed(client, second, "GET", "/v1/test/read").status_code == 200


def test_public_calls_are_limited_per_client_ip(client, settings, rl_clock):
    settings.RATE_LIMIT_PUBLIC_WEIGHT_PER_MINUTE = 5
    first = client.get("/v1/test/public", REMOTE_ADDR="192.0.2.1")
    assert [first[h] for h in HEADERS[:2]] == ["5", "3"]
    assert first["X-RateLimit-Cost"] == "2"
    assert client.get("/v1/test/public", REMOTE_ADDR="192.0.2.1").status_code == 200
    refused = client.get("/v1/test/public", REMOTE_ADDR="192.0.2.1")
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["scope"] == "ip"
    assert int(refused["Retry-After"]) >= 1
    assert client.get("/v1/test/public", REMOTE_ADDR="192.0.2.2").status_code == 200


def test_public_ipv6_clients_share_a_budget_per_64(client, settings, rl_clock):
    settings.RATE_LIMIT_PUBLIC_WEIGHT_PER_MINUTE = 4
    assert (
        client.get("/v1/test/public", REMOTE_ADDR="2001:db8:1:2::1").status_code == 200
    )
    assert (
        client.get("/v1/test/public", REMOTE_ADDR="2001:db8:1:2::ffff").status_code
        == 200
    )
    assert (
        client.get("/v1/test/public", REMOTE_ADDR="2001:db8:1:2:abcd::9").status_code
        == 429
    )
    assert (
        client.get("/v1/test/public", REMOTE_ADDR="2001:db8:1:3::1").status_code == 200
    )


def test_public_weight_can_depend_on_parameters(client, rl_clock):
    costs = [
        client.get(f"/v1/test/depth?depth={depth}")["X-RateLimit-Cost"]
        for depth in ("10", "100", "101", "500", "5000", "lots")
    ]
    assert costs == ["1", "1", "5", "5", "10", "1"]


def test_requests_refused_before_the_rate_limit_are_not_charged(
    client, alice, rl_clock
):
    api_key = ApiKeyFactory(user=alice, scope="read", weight_per_minute=3)
    for _ in range(5):
        refused = signed(client, api_key, "GET", "/v1/test/trade")  # scope missing
        assert error_code(refused) == "PERMISSION_SCOPE_MISSING"
        assert refused["X-RateLimit-Remaining"] == "3"
        assert refused["X-RateLimit-Limit"] == "3"
    unsigned = client.get("/v1/test/read")
    assert unsigned["X-RateLimit-Limit"] == "1200"  # the client IP's budget
    assert (
        signed(client, api_key, "GET", "/v1/test/read")["X-RateLimit-Remaining"] == "2"
    )


def test_weighted_counter_is_django_ratelimits_own_counter(rl_clock):
    """We extend django-ratelimit rather than run a second limiter: its
    get_usage reads the counter our weighted charges build."""
    budget = ratelimit.Budget(ratelimit.GROUP_KEY, "hkt_shared", 100)
    ratelimit.charge(budget, 7)
    ratelimit.charge(budget, 5)
    usage = get_usage(
        RequestFactory().get("/"),
        group=budget.group,
        key=lambda group, request: budget.value,
        rate=budget.rate,
    )
    assert usage["count"] == 12
    assert usage["limit"] == 100


def test_cache_failure_is_503_system_unavailable_not_a_500(
    client, read_key, monkeypatch
):
    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(ratelimit, "_add", broken)
    response = signed(client, read_key, "GET", "/v1/test/read")
    assert response.status_code == 503
    assert error_code(response) == "SYSTEM_UNAVAILABLE"
