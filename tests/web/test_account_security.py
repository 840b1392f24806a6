"""What reviewers check on the account pages: every change to a key is
recorded (who, when, from where), withdraw keys need the password again, the
secret is never cached or shown twice, log-ins are throttled, passwords can
be changed, no page runs inline script, and production cookies are secure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from apps.apikeys.models import ApiKey, ApiKeyChange
from apps.apikeys.services import apikey_update
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-123456-long"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Django's real hasher takes ~0.3 s a check here, and these tests check
    dozens of passwords; the throttle does not depend on the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def logged_in(client, alice):
    alice.set_password(PASSWORD)
    alice.save()
    client.force_login(alice)
    return client


def _create(client, **fields):
    data = {"label": "bot", "scope": "trade", "ip_allowlist": "203.0.113.7"}
    data.update(drift_ms="5000", **fields)
    return client.post("/settings/api-keys/", data, REMOTE_ADDR="198.51.100.4")


# ---------------------------------------------------------------- key changes


def test_every_change_to_a_key_is_recorded_with_who_when_and_where(logged_in, alice):
    assert _create(logged_in).status_code == 200
    key = ApiKey.objects.get(user=alice)
    logged_in.post(
        f"/settings/api-keys/{key.key}/",
        {"label": "bot 2", "ip_allowlist": "203.0.113.7", "drift_ms": "2000"},
        REMOTE_ADDR="198.51.100.5",
    )
    logged_in.post(f"/settings/api-keys/{key.key}/revoke", REMOTE_ADDR="198.51.100.6")
    changes = list(ApiKeyChange.objects.filter(api_key=key).order_by("pk"))
    assert [(c.action, c.actor, c.by_staff, c.ip) for c in changes] == [
        ("created", alice, False, "198.51.100.4"),
        ("updated", alice, False, "198.51.100.5"),
        ("revoked", alice, False, "198.51.100.6"),
    ]
    assert changes[0].changes["scope"] == "trade"
    assert changes[1].changes == {
        "label": "bot 2",
        "drift_ms": 2000,
    }  # only what changed
    assert all("secret" not in str(c.changes) for c in changes)
    page = logged_in.get("/settings/api-keys/").content.decode()
    listing = page[page.index('id="key-changes"') :]
    assert listing.count(key.key) == 3
    assert "198.51.100.5" in listing and "drift_ms: 2000; label: bot 2" in listing


def test_a_staff_change_is_listed_on_the_owners_page_as_staff(logged_in, alice):
    key = ApiKeyFactory(user=alice, scope="read")
    staff = UserFactory(username="operator", is_staff=True)
    apikey_update(api_key=key, weight_per_minute=6_000, actor=staff, ip="10.0.0.9")
    change = ApiKeyChange.objects.get(api_key=key, action="updated")
    assert (change.actor, change.by_staff, change.changes) == (
        staff,
        True,
        {"weight_per_minute": 6000},
    )
    page = logged_in.get("/settings/api-keys/").content.decode()
    row = re.search(r"weight_per_minute: 6000</td>\s*<td>([^<]*)</td>", page)
    assert row is not None and row.group(1) == "staff"
    assert "market maker (6,000 weight/min)" in page  # the tier, in the key list


def test_a_change_that_changes_nothing_records_nothing(alice):
    key = ApiKeyFactory(user=alice, scope="read", label="same")
    apikey_update(api_key=key, label="same", actor=alice)
    assert list(
        ApiKeyChange.objects.filter(api_key=key).values_list("action", flat=True)
    ) == ["created"]


# -------------------------------------------------------------- withdraw keys


def test_a_withdraw_key_needs_the_password_again(logged_in, alice):
    response = _create(logged_in, scope="withdraw")
    assert response.status_code == 200
    assert "Enter your password to create a withdraw key." in response.content.decode()
    response = _create(logged_in, scope="withdraw", password="wrong-password")
    assert "Enter your password" in response.content.decode()
    assert not ApiKey.objects.filter(user=alice).exists()
    response = _create(logged_in, scope="withdraw", password=PASSWORD)
    assert 'id="secret"' in response.content.decode()
    assert ApiKey.objects.get(user=alice).scope == "withdraw"


def test_a_trade_key_needs_no_password(logged_in, alice):
    assert 'id="secret"' in _create(logged_in).content.decode()


# -------------------------------------------------------------------- secret


def test_the_secret_page_is_never_cached_and_carries_a_ready_snippet(logged_in, alice):
    response = _create(logged_in)
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    key = ApiKey.objects.get(user=alice)
    secret = re.search(r'<code id="secret">([^<]+)</code>', page).group(1)
    snippet = re.search(r'<pre id="snippet">(.*?)</pre>', page, re.S).group(1)
    assert f"export HKT_KEY={key.key}" in snippet
    assert "hkt_sign GET /v1/account/balances" in snippet
    assert secret not in snippet  # pasted by the user, not printed twice
    assert 'data-copy="secret"' in page and "web/copy.js" in page
    for path in ("/settings/api-keys/", f"/settings/api-keys/{key.key}/"):
        assert secret not in logged_in.get(path).content.decode()


def test_last_use_shows_time_and_address(logged_in, alice):
    key = ApiKeyFactory(user=alice, scope="read")
    response = signed(
        logged_in, key, "GET", "/v1/account/balances", remote_addr="192.0.2.44"
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_ip == "192.0.2.44"
    page = logged_in.get("/settings/api-keys/").content.decode()
    assert "from <code>192.0.2.44</code>" in page


# --------------------------------------------------------------------- log-in


def _login(client, username, password, addr="203.0.113.50"):
    return client.post(
        "/login/", {"username": username, "password": password}, REMOTE_ADDR=addr
    )


def test_log_in_is_throttled_per_username_after_failures(client, alice, settings):
    settings.LOGIN_THROTTLE_PER_USER = 3
    alice.set_password(PASSWORD)
    alice.save()
    for _ in range(3):
        assert _login(client, "alice", "wrong").status_code == 200
    blocked = _login(client, "alice", PASSWORD)  # even the right password
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "Too many failed log-ins" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another name from the same address is not blocked by alice's count.
    UserFactory(username="carol").set_password(PASSWORD)
    assert _login(client, "carol", "wrong").status_code == 200


def test_log_in_is_throttled_per_address(client, alice, settings):
    settings.LOGIN_THROTTLE_PER_IP = 4
    for n in range(4):
        assert _login(client, f"nobody{n}", "wrong").status_code == 200
    assert _login(client, "alice", PASSWORD).status_code == 429
    alice.set_password(PASSWORD)
    alice.save()
    # From another address alice logs in.
    response = _login(client, "alice", PASSWORD, addr="203.0.113.51")
    assert response.status_code == 302


def test_successful_log_ins_cost_nothing(client, alice, settings):
    settings.LOGIN_THROTTLE_PER_USER = 2
    alice.set_password(PASSWORD)
    alice.save()
    for _ in range(4):
        assert _login(client, "alice", PASSWORD).status_code == 302
        client.logout()


def test_password_change(logged_in, alice, client):
    page = logged_in.get("/settings/password/")
    assert page.status_code == 200
    response = logged_in.post(
        "/settings/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-pass-phrase-77",
            "new_password2": "a-new-pass-phrase-77",
        },
    )
    assert (response.status_code, response["Location"]) == (
        302,
        "/settings/password/done/",
    )
    alice.refresh_from_db()
    assert alice.check_password("a-new-pass-phrase-77")
    wrong = logged_in.post(
        "/settings/password/",
        {
            "old_password": "nope",
            "new_password1": "x-1234567-y",
            "new_password2": "x-1234567-y",
        },
    )
    assert wrong.status_code == 200 and "errorlist" in wrong.content.decode()


# ------------------------------------------------------- CSP and cookies


def test_every_page_sends_a_csp_without_inline_script(logged_in):
    for path in (
        "/",
        "/settings/api-keys/",
        "/account/balances/",
        "/account/orders/",
        "/settings/password/",
        "/v1/docs",
    ):
        response = logged_in.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        directives = dict(
            (part.split()[0], part.split()[1:])
            for part in policy.split(";")
            if part.strip()
        )
        assert directives["script-src"] == ["'self'"], (path, policy)
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert directives["frame-ancestors"] == ["'none'"]
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode())
        assert inline == [], (path, inline)


def test_no_template_has_inline_script_or_event_handlers():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(
            r"\son[a-z]+\s*=", text
        ):
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


def test_production_cookies_are_secure_http_only_and_same_site():
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        EXCHANGE_ENV="production",
        SECRET_KEY="x" * 50,
        API_SECRET_ENCRYPTION_KEY="A" * 43 + "=",
        DJANGO_SETTINGS_MODULE="exchange.settings",
    )
    code = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(None, 4) == [
        "True",
        "True",
        "True",
        "Lax",
        "('HTTP_X_FORWARDED_PROTO', 'https')\n",
    ]


def test_staff_actions_in_the_admin_are_recorded_for_the_owner(client, alice):
    key = ApiKeyFactory(user=alice, scope="read")
    staff = UserFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(
        "/admin/apikeys/apikey/",
        {"action": "disable_keys", "_selected_action": [key.pk]},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    change = ApiKeyChange.objects.get(api_key=key, action="disabled")
    assert (change.actor, change.by_staff, change.ip) == (staff, True, "10.1.2.3")
    page = client.get(f"/admin/apikeys/apikey/{key.pk}/change/").content.decode()
    assert "Disabled by operator (staff) from 10.1.2.3" in page
    client.force_login(alice)
    mine = client.get("/settings/api-keys/").content.decode()
    assert "disabled by staff since" in mine
    listing = mine[mine.index('id="key-changes"') :]
    assert "Disabled" in listing and "<td>staff</td>" in listing
