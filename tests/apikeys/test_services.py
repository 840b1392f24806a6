from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.apikeys.crypto import decrypt_secret
from apps.apikeys.models import ApiKey
from apps.apikeys.selectors import apikey_get_cached, lookup_cache_key
from apps.apikeys.services import (
    apikey_create,
    apikey_revoke,
    apikey_revoke_all,
    apikey_update,
)
from apps.core.errors import DomainError

pytestmark = pytest.mark.django_db


def _fields(exc: pytest.ExceptionInfo[DomainError]) -> dict:
    assert exc.value.code == "VALIDATION_ERROR"
    return exc.value.details["fields"]


def test_create_returns_the_secret_once_and_stores_it_encrypted(alice):
    api_key, secret = apikey_create(user=alice, scope="read", ip_allowlist=[])
    row = ApiKey.objects.get(pk=api_key.pk)
    assert row.key.startswith("hkt_test_") and len(row.key) == 41  # sandbox
    assert len(secret) >= 40
    assert row.secret_encrypted != secret
    assert secret not in row.secret_encrypted
    assert decrypt_secret(row.secret_encrypted) == secret
    assert not hasattr(row, "secret")


def test_two_keys_get_different_ids_and_secrets(alice):
    first, first_secret = apikey_create(user=alice, scope="read", ip_allowlist=[])
    second, second_secret = apikey_create(user=alice, scope="read", ip_allowlist=[])
    assert first.key != second.key and first_secret != second_secret


def test_create_applies_defaults_and_canonicalises_the_allowlist(alice):
    api_key, _ = apikey_create(
        user=alice,
        scope="trade",
        ip_allowlist=[
            "203.0.113.7/32",
            " 2001:DB8::/32 ",
            "::ffff:10.0.0.0/104",
            "203.0.113.7",
        ],
    )
    assert api_key.ip_allowlist == ["203.0.113.7", "2001:db8::/32", "10.0.0.0/8"]
    assert api_key.drift_ms == 5_000
    assert api_key.weight_per_minute == 1_200


def test_a_list_of_scopes_means_the_highest(alice):
    api_key, _ = apikey_create(
        user=alice, scope=["read", "withdraw", "trade"], ip_allowlist=["127.0.0.1"]
    )
    assert api_key.scope == "withdraw"


@pytest.mark.parametrize("scope", ["trade", "withdraw"])
def test_trade_and_withdraw_keys_need_an_allowlist(alice, scope):
    with pytest.raises(DomainError) as exc:
        apikey_create(user=alice, scope=scope, ip_allowlist=[])
    assert "ip_allowlist" in _fields(exc)
    assert "allow-list" in exc.value.message


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        (["not-an-ip"], "not an IP address"),
        (["10.0.0.1/24"], "did you mean 10.0.0.0/24"),
        (["10.0.0.0/33"], "10.0.0.0/33"),
        (["0.0.0.0/0"], "allows every address"),
        (["::/0"], "allows every address"),
        ([42], "not an IP address"),
    ],
)
def test_bad_allowlist_entries_are_clear_validation_errors(alice, entries, fragment):
    with pytest.raises(DomainError) as exc:
        apikey_create(user=alice, scope="trade", ip_allowlist=entries)
    assert any(fragment in message for message in _fields(exc)["ip_allowlist"])


@pytest.mark.parametrize("drift", [499, 60_001, "5000", True])
def test_drift_outside_500_to_60000_ms_is_refused(alice, drift):
    with pytest.raises(DomainError) as exc:
        apikey_create(user=alice, scope="read", ip_allowlist=[], drift_ms=drift)
    assert "drift_ms" in _fields(exc)


@pytest.mark.parametrize("scope", ["admin", "", []])
def test_unknown_scope_is_refused(alice, scope):
    with pytest.raises(DomainError) as exc:
        apikey_create(user=alice, scope=scope, ip_allowlist=[])
    assert "scope" in _fields(exc)


def test_update_cannot_leave_a_trade_key_without_an_allowlist(alice):
    api_key, _ = apikey_create(user=alice, scope="trade", ip_allowlist=["127.0.0.1"])
    with pytest.raises(DomainError):
        apikey_update(api_key=api_key, ip_allowlist=[])
    read_key, _ = apikey_create(user=alice, scope="read", ip_allowlist=[])
    with pytest.raises(DomainError):
        apikey_update(api_key=read_key, scope="trade")
    updated = apikey_update(
        api_key=read_key, scope="trade", ip_allowlist=["192.0.2.0/24"]
    )
    assert (updated.scope, updated.ip_allowlist) == ("trade", ["192.0.2.0/24"])


def test_update_changes_only_what_is_given(alice):
    api_key, _ = apikey_create(user=alice, scope="read", ip_allowlist=[], label="bot")
    updated = apikey_update(api_key=api_key, drift_ms=1_000, weight_per_minute=6_000)
    assert (updated.drift_ms, updated.weight_per_minute, updated.label) == (
        1_000,
        6_000,
        "bot",
    )


def test_update_and_revoke_invalidate_the_cached_lookup(alice):
    api_key, _ = apikey_create(user=alice, scope="read", ip_allowlist=[])
    assert apikey_get_cached(key=api_key.key).drift_ms == 5_000
    assert cache.get(lookup_cache_key(api_key.key)) is not None
    apikey_update(api_key=api_key, drift_ms=700)
    assert apikey_get_cached(key=api_key.key).drift_ms == 700
    apikey_revoke(api_key=api_key)
    assert apikey_get_cached(key=api_key.key).revoked_at is not None


def test_revoke_is_idempotent_and_keeps_the_first_time(alice):
    api_key, _ = apikey_create(user=alice, scope="read", ip_allowlist=[])
    first = apikey_revoke(api_key=api_key).revoked_at
    assert apikey_revoke(api_key=api_key).revoked_at == first


def test_revoked_key_cannot_be_updated(alice):
    api_key, _ = apikey_create(user=alice, scope="read", ip_allowlist=[])
    apikey_revoke(api_key=api_key)
    with pytest.raises(DomainError):
        apikey_update(api_key=api_key, drift_ms=1_000)


def test_revoke_all_revokes_only_that_users_live_keys(alice, bob):
    for _ in range(2):
        apikey_create(user=alice, scope="read", ip_allowlist=[])
    theirs, _ = apikey_create(user=bob, scope="read", ip_allowlist=[])
    assert apikey_revoke_all(user=alice) == 2
    assert apikey_revoke_all(user=alice) == 0
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_a_cached_miss_is_forgotten_when_the_key_is_created(alice, monkeypatch):
    from apps.apikeys import services

    monkeypatch.setattr(services, "new_key_id", lambda: "hkt_" + "a" * 32)
    assert apikey_get_cached(key="hkt_" + "a" * 32) is None  # caches the miss
    apikey_create(user=alice, scope="read", ip_allowlist=[])
    assert apikey_get_cached(key="hkt_" + "a" * 32) is not None
