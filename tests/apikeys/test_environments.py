"""Sandbox and production keys cannot be confused (docs/signing.md, "Sandbox
and production keys"): the key id's prefix names its environment, a server
refuses the other environment's keys before the signature check, and the
signing domain makes a signature made for one environment invalid in the other.
"""

from __future__ import annotations

import pytest

from apps.apikeys import auth, errors
from apps.apikeys.crypto import encrypt_secret
from apps.apikeys.models import ApiKey
from exchange.client import signing
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.apikeys.urls")]

OTHER = {"sandbox": "production", "production": "sandbox"}


def key_in(settings, environment: str, **kwargs):
    settings.EXCHANGE_ENV = environment
    return ApiKeyFactory(scope="read", **kwargs)


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_a_key_is_created_with_its_environments_prefix(settings, environment):
    api_key = key_in(settings, environment)
    prefix = {"sandbox": "hkt_test_", "production": "hkt_live_"}[environment]
    assert api_key.key.startswith(prefix) and len(api_key.key) == len(prefix) + 32
    assert signing.key_environment(api_key.key) == environment


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_a_key_works_in_its_own_environment(client, settings, environment):
    api_key = key_in(settings, environment)
    response = signed(client, api_key, "GET", "/v1/test/read")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("key_env", ["sandbox", "production"])
def test_a_key_of_the_other_environment_is_refused_with_its_own_code(
    client, settings, key_env
):
    api_key = key_in(settings, key_env)
    settings.EXCHANGE_ENV = OTHER[key_env]
    response = signed(client, api_key, "GET", "/v1/test/read")
    assert response.status_code == 401
    assert error_code(response) == "AUTH_KEY_WRONG_ENVIRONMENT"
    assert response.json()["error"]["details"] == {
        "key_environment": key_env,
        "server_environment": OTHER[key_env],
    }


def test_the_environment_is_checked_before_the_key_exists(client, settings):
    """A production server has no sandbox keys: the prefix alone answers,
    which is more helpful than AUTH_INVALID_KEY."""
    settings.EXCHANGE_ENV = "production"
    headers = {
        "X-Api-Key": "hkt_test_" + "0" * 32,
        "X-Api-Timestamp": "1",
        "X-Api-Nonce": "bad",
        "X-Api-Signature": "x",
    }
    response = client.get("/v1/test/read", headers=headers)
    assert error_code(response) == "AUTH_KEY_WRONG_ENVIRONMENT"


@pytest.mark.parametrize("server_env", ["sandbox", "production"])
def test_a_signature_made_for_the_other_domain_is_invalid(client, settings, server_env):
    """Even a key whose id passes the prefix check: the domain line differs."""
    api_key = key_in(settings, server_env)
    response = signed(
        client, api_key, "GET", "/v1/test/read", environment=OTHER[server_env]
    )
    assert response.status_code == 401
    assert error_code(response) == "AUTH_INVALID_SIGNATURE"


def test_the_same_request_signs_differently_per_domain():
    common = dict(
        secret="s",
        key="hkt_test_" + "0" * 32,
        method="GET",
        path="/v1/x",
        timestamp=1,
        nonce="abcdefgh",
    )
    sandbox = signing.sign_request(**common)
    assert sandbox == signing.sign_request(**common, environment="sandbox")
    assert sandbox != signing.sign_request(**common, environment="production")


@pytest.mark.parametrize("server_env", ["sandbox", "production"])
def test_a_legacy_key_without_prefix_still_signs_v1(
    client, settings, alice, server_env
):
    settings.EXCHANGE_ENV = server_env
    api_key = ApiKey.objects.create(
        user=alice, key="hkt_" + "ab" * 16, secret_encrypted=encrypt_secret("sec")
    )
    api_key.secret = "sec"
    assert signing.key_environment(api_key.key) is None
    assert signing.prehash(
        timestamp=1, nonce="n", key=api_key.key, method="GET", path="/"
    ).startswith("v1\n1\n")
    assert signed(client, api_key, "GET", "/v1/test/read").status_code == 200
    response = signed(client, api_key, "GET", "/v1/test/read", environment=server_env)
    assert error_code(response) == "AUTH_INVALID_SIGNATURE"


@pytest.mark.parametrize("key_env", ["sandbox", "production"])
def test_websocket_auth_refuses_the_other_environment(settings, key_env):
    api_key = key_in(settings, key_env)
    frame = signing.stream_auth(key=api_key.key, secret=api_key.secret)
    settings.EXCHANGE_ENV = OTHER[key_env]
    with pytest.raises(errors.KeyWrongEnvironment):
        auth.authenticate_stream(
            fields=frame, remote_addr="127.0.0.1", forwarded_for=""
        )


def test_websocket_auth_checks_the_domain(settings):
    api_key = key_in(settings, "production")
    good = signing.stream_auth(key=api_key.key, secret=api_key.secret)
    assert (
        auth.authenticate_stream(fields=good, remote_addr="127.0.0.1", forwarded_for="")
        == api_key
    )
    bad = dict(good, nonce=signing.new_nonce())
    bad["signature"] = signing.sign_request(
        secret=api_key.secret,
        key=api_key.key,
        method="GET",
        path="/v1/ws",
        timestamp=bad["timestamp"],
        nonce=bad["nonce"],
        environment="sandbox",
    )
    with pytest.raises(errors.InvalidSignature):
        auth.authenticate_stream(fields=bad, remote_addr="127.0.0.1", forwarded_for="")


def test_unknown_environment_has_no_domain():
    with pytest.raises(ValueError):
        signing.signing_domain("staging")
