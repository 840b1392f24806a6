from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.apikeys.crypto import decrypt_secret
from apps.apikeys.models import ApiKey

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("createapikey", *args, stdout=out)
    return out.getvalue()


def test_createapikey_prints_key_and_secret_once(alice):
    out = _run(
        "alice", "--scopes", "read,trade", "--ips", "127.0.0.1/32", "--label", "bot"
    )
    row = ApiKey.objects.get(user=alice)
    assert f"key:    {row.key}" in out
    secret = out.split("secret: ", 1)[1].split()[0]
    assert decrypt_secret(row.secret_encrypted) == secret
    assert (row.scope, row.ip_allowlist, row.label, row.drift_ms) == (
        "trade",
        ["127.0.0.1"],
        "bot",
        5_000,
    )


def test_createapikey_json_prints_only_key_and_secret(alice):
    out = _run("alice", "--scopes", "read", "--json", "--drift-ms", "1500")
    payload = json.loads(out)
    assert set(payload) == {"key", "secret"}
    row = ApiKey.objects.get(key=payload["key"])
    assert decrypt_secret(row.secret_encrypted) == payload["secret"]
    assert row.drift_ms == 1_500 and row.ip_allowlist == []


def test_createapikey_takes_the_highest_of_several_scopes(alice):
    payload = json.loads(
        _run("alice", "--scopes", "withdraw,read", "--ips", "::1", "--json")
    )
    assert ApiKey.objects.get(key=payload["key"]).scope == "withdraw"


def test_createapikey_refuses_a_trade_key_without_ips(alice):
    with pytest.raises(CommandError, match="allow-list"):
        _run("alice", "--scopes", "trade")
    assert not ApiKey.objects.exists()


def test_createapikey_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user"):
        _run("nobody")
