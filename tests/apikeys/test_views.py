from __future__ import annotations

import pytest

from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed

pytestmark = pytest.mark.django_db


def test_time_is_public_and_gives_ms_and_iso(client, monkeypatch):
    import apps.core.middleware

    monkeypatch.setattr(apps.core.middleware, "now_ms", lambda: 1_714_521_600_123)
    response = client.get("/v1/time")
    assert response.status_code == 200
    assert response.json() == {
        "server_time": 1_714_521_600_123,
        "iso": "2024-05-01T00:00:00.123Z",
    }
    assert response["X-Server-Time"] == "1714521600123"
    assert response["X-RateLimit-Cost"] == "1"


def test_account_api_key_describes_the_calling_key_without_its_secret(client, alice):
    api_key = ApiKeyFactory(
        user=alice,
        scope="trade",
        ip_allowlist=["127.0.0.1", "2001:db8::/32"],
        drift_ms=2_500,
    )
    response = signed(client, api_key, "GET", "/v1/account/api-key")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["key"] == api_key.key
    assert body["scope"] == "trade"
    assert body["ip_allowlist"] == ["127.0.0.1", "2001:db8::/32"]
    assert body["drift_ms"] == 2_500
    assert body["weight_per_minute"] == 1_200
    assert body["created_at"]
    assert api_key.secret not in response.content.decode()
    assert "secret" not in body


def test_account_api_key_needs_a_signature(client):
    response = client.get("/v1/account/api-key")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTH_MISSING_HEADERS"
