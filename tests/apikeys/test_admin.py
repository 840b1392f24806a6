from __future__ import annotations

import pytest
from django.urls import reverse

from apps.apikeys.models import ApiKey
from tests.apikeys.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade_key(alice):
    return ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["203.0.113.7"])


def test_secret_never_appears_in_the_admin(admin_client, trade_key):
    pages = [
        admin_client.get(reverse("admin:apikeys_apikey_changelist")),
        admin_client.get(reverse("admin:apikeys_apikey_change", args=[trade_key.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert trade_key.key in html
        assert trade_key.secret not in html
        assert trade_key.secret_encrypted not in html
        assert "secret_encrypted" not in html


def test_admin_cannot_add_or_delete_keys(admin_client):
    assert admin_client.get(reverse("admin:apikeys_apikey_add")).status_code == 403


def test_admin_revoke_action_calls_the_service(admin_client, trade_key):
    response = admin_client.post(
        reverse("admin:apikeys_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [trade_key.pk]},
    )
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=trade_key.pk).revoked_at is not None


def test_admin_market_maker_action_raises_the_budget(admin_client, trade_key):
    admin_client.post(
        reverse("admin:apikeys_apikey_changelist"),
        {"action": "set_market_maker_tier", "_selected_action": [trade_key.pk]},
    )
    assert ApiKey.objects.get(pk=trade_key.pk).weight_per_minute == 6_000


def _change(admin_client, api_key, **overrides):
    data = {
        "label": "bot",
        "scope": "trade",
        "ip_allowlist_text": "203.0.113.7\n2001:db8::/32",
        "drift_ms": "2000",
        "weight_per_minute": "6000",
    }
    data.update(overrides)
    return admin_client.post(
        reverse("admin:apikeys_apikey_change", args=[api_key.pk]), data
    )


def test_admin_edits_scope_ips_drift_and_tier(admin_client, trade_key):
    assert _change(admin_client, trade_key).status_code == 302
    row = ApiKey.objects.get(pk=trade_key.pk)
    assert (row.label, row.drift_ms, row.weight_per_minute) == ("bot", 2_000, 6_000)
    assert row.ip_allowlist == ["203.0.113.7", "2001:db8::/32"]


def test_admin_refuses_a_trade_key_without_ips_with_a_form_error(
    admin_client, trade_key
):
    response = _change(admin_client, trade_key, ip_allowlist_text="")
    assert response.status_code == 200
    assert "needs an IP allow-list" in response.content.decode()
    assert ApiKey.objects.get(pk=trade_key.pk).ip_allowlist == ["203.0.113.7"]


def test_admin_refuses_a_bad_address_with_a_form_error(admin_client, trade_key):
    response = _change(admin_client, trade_key, ip_allowlist_text="10.0.0.1/24")
    assert response.status_code == 200
    assert "did you mean 10.0.0.0/24" in response.content.decode()
