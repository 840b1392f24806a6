"""The API key settings page: create (secret shown once), edit, revoke."""

from __future__ import annotations

import re

import pytest

from apps.apikeys.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, alice):
    alice.set_password("pw-123456")
    alice.save()
    client.force_login(alice)
    return client


def test_pages_need_a_login(client):
    response = client.get("/settings/api-keys/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_page_logs_in_and_lands_on_the_keys(client, alice):
    alice.set_password("pw-123456")
    alice.save()
    response = client.post("/login/", {"username": "alice", "password": "pw-123456"})
    assert (response.status_code, response["Location"]) == (302, "/settings/api-keys/")


def test_the_page_says_trade_keys_need_an_ip_list(logged_in):
    page = logged_in.get("/settings/api-keys/").content.decode()
    assert "Trade and withdraw keys" in page and "require an IP allow-list" in page


def test_creating_a_key_shows_its_secret_once_and_stores_it_encrypted(logged_in, alice):
    response = logged_in.post(
        "/settings/api-keys/",
        {
            "label": "bot",
            "scope": "trade",
            "ip_allowlist": "203.0.113.7\n2001:db8::/48",
            "drift_ms": "2500",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    secret = re.search(r'<code id="secret">([^<]+)</code>', page).group(1)
    key = ApiKey.objects.get(user=alice)
    assert (key.scope, key.drift_ms, key.label) == ("trade", 2500, "bot")
    assert key.ip_allowlist == ["203.0.113.7", "2001:db8::/48"]
    assert secret not in key.secret_encrypted
    listing = logged_in.get("/settings/api-keys/").content.decode()
    assert key.key in listing and secret not in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"scope": "trade", "ip_allowlist": "", "drift_ms": "5000"},
            "needs an IP allow-list",
        ),
        (
            {"scope": "read", "ip_allowlist": "", "drift_ms": "100"},
            "greater than or equal to 500",
        ),
        (
            {"scope": "read", "ip_allowlist": "not-an-ip", "drift_ms": "5000"},
            "not-an-ip",
        ),
    ],
)
def test_bad_settings_are_refused_on_the_form(logged_in, data, message):
    response = logged_in.post("/settings/api-keys/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert ApiKey.objects.count() == 0


def test_read_key_may_have_no_ip_list(logged_in):
    response = logged_in.post(
        "/settings/api-keys/", {"scope": "read", "ip_allowlist": "", "drift_ms": "5000"}
    )
    assert response.status_code == 200 and ApiKey.objects.get().ip_allowlist == []


def test_edit_changes_drift_and_ips_and_revoke_revokes(logged_in, alice, trade_key):
    edit = f"/settings/api-keys/{trade_key.key}/"
    assert logged_in.get(edit).status_code == 200
    response = logged_in.post(
        edit, {"label": "mm", "ip_allowlist": "198.51.100.0/24", "drift_ms": "60000"}
    )
    assert response.status_code == 302
    trade_key.refresh_from_db()
    assert (trade_key.drift_ms, trade_key.label) == (60000, "mm")
    emptied = logged_in.post(
        edit, {"label": "mm", "ip_allowlist": "", "drift_ms": "5000"}
    )
    assert "needs an IP allow-list" in emptied.content.decode()
    assert logged_in.post(f"{edit}revoke").status_code == 302
    trade_key.refresh_from_db()
    assert trade_key.revoked_at is not None


def test_another_users_key_is_a_404(logged_in, bob):
    from tests.apikeys.factories import ApiKeyFactory

    theirs = ApiKeyFactory(user=bob, scope="read")
    assert logged_in.get(f"/settings/api-keys/{theirs.key}/").status_code == 404
    assert logged_in.post(f"/settings/api-keys/{theirs.key}/revoke").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_unknown_web_path_is_an_html_404_and_api_path_json(client):
    assert "application/json" not in client.get("/nope/")["Content-Type"]
    assert client.get("/v1/nope")["Content-Type"] == "application/json"
