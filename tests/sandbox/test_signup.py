"""Web sign-up at /signup/ (docs/sandbox.md, "Sign-up")."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.models import Account, LedgerEntry, LedgerReason, Tier
from tests.helpers import BTC, USD, bal
from tests.sandbox.conftest import reload_urls

pytestmark = pytest.mark.django_db

NEW = {
    "username": "carol",
    "password1": "ok-sandbox-9431",
    "password2": "ok-sandbox-9431",
}


@pytest.fixture
def assets(btc, usd):
    return btc, usd


def test_the_signup_page_has_a_csrf_token_and_no_inline_script(client):
    page = client.get("/signup/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert 'href="/login/"' in page


def test_the_login_page_links_to_signup(client):
    assert 'href="/signup/"' in client.get("/login/").content.decode()


def test_signup_makes_a_funded_account_and_logs_in(client, assets, assert_ledger):
    response = client.post("/signup/", NEW)
    assert (response.status_code, response["Location"]) == (302, "/settings/api-keys/")
    user = get_user_model().objects.get(username="carol")
    assert user.check_password(NEW["password1"])
    assert Account.objects.get(user=user).tier == Tier.VERIFIED
    assert bal(user, assets[0]) == (10 * BTC, 0)
    assert bal(user, assets[1]) == (1_000_000 * USD, 0)
    assert set(
        LedgerEntry.objects.filter(user=user).values_list("reason", flat=True)
    ) == {LedgerReason.FAUCET}
    page = client.get("/settings/api-keys/").content.decode()
    assert "10.00000000 BTC" in page  # the message, on the logged-in page
    assert "Log out carol" in page
    assert_ledger()


def test_signup_without_csrf_token_is_refused(assets):
    response = Client(enforce_csrf_checks=True).post("/signup/", NEW)
    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="carol").exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"username": "alice"}, "username"),
        ({"password2": "something-else-1"}, "password2"),
        ({"password1": "short", "password2": "short"}, "password2"),
        ({"password1": "password", "password2": "password"}, "password2"),
    ],
)
def test_bad_signups_are_refused_on_the_form(client, assets, alice, change, field):
    response = client.post("/signup/", {**NEW, **change})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field)
    assert not LedgerEntry.objects.exists()


def test_in_production_signup_is_absent_by_default(client, production):
    assert client.get("/signup/").status_code == 404
    assert client.post("/signup/", NEW).status_code == 404
    assert 'href="/signup/"' not in client.get("/login/").content.decode()
    assert not get_user_model().objects.filter(username="carol").exists()


def test_production_can_switch_signup_on_and_funds_nothing(client, assets, production):
    production.SIGNUP_ENABLED = True
    reload_urls()
    response = client.post("/signup/", NEW)
    assert response.status_code == 302
    user = get_user_model().objects.get(username="carol")
    assert Account.objects.get(user=user).tier == Tier.UNVERIFIED
    assert not LedgerEntry.objects.filter(user=user).exists()
