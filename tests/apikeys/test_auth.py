from __future__ import annotations

import pytest

from apps.apikeys import auth
from apps.apikeys.services import apikey_revoke, apikey_update
from exchange.client import signing
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, sign_headers, signed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.apikeys.urls")]

NOW = 1_714_521_600_000


@pytest.fixture
def server_clock(monkeypatch):
    """Pin server time (the X-Server-Time clock, which auth reads) to NOW."""
    import apps.core.middleware

    monkeypatch.setattr(apps.core.middleware, "now_ms", lambda: NOW)
    return NOW


def test_valid_signature_is_accepted_and_identifies_key_and_user(client, read_key):
    response = signed(client, read_key, "GET", "/v1/test/read")
    assert response.status_code == 200, response.content
    assert response.json() == {"key": read_key.key, "user": "alice"}


def test_signed_query_string_is_part_of_the_signature(client, read_key):
    response = signed(client, read_key, "GET", "/v1/test/read?depth=5&pair=BTC-USD")
    assert response.status_code == 200
    headers = sign_headers(read_key, "GET", "/v1/test/read?depth=5")
    tampered = client.get("/v1/test/read?depth=500", headers=headers)
    assert error_code(tampered) == "AUTH_INVALID_SIGNATURE"


def test_signed_post_with_non_ascii_json_body_is_accepted(client, read_key):
    response = signed(
        client, read_key, "POST", "/v1/test/read", {"label": "café ₿ 東京"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["body"] == {"label": "café ₿ 東京"}


def test_tampered_body_is_rejected_as_invalid_signature(client, read_key):
    headers = sign_headers(read_key, "POST", "/v1/test/read", b'{"size":"1"}')
    response = client.post(
        "/v1/test/read",
        data=b'{"size":"9"}',
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401
    assert error_code(response) == "AUTH_INVALID_SIGNATURE"


def test_signature_made_with_another_method_is_rejected(client, read_key):
    headers = sign_headers(read_key, "POST", "/v1/test/read")
    response = client.get("/v1/test/read", headers=headers)
    assert error_code(response) == "AUTH_INVALID_SIGNATURE"


def test_signature_under_a_wrong_secret_is_rejected(client, read_key):
    response = signed(client, read_key, "GET", "/v1/test/read", secret="not-the-secret")
    assert response.status_code == 401
    assert error_code(response) == "AUTH_INVALID_SIGNATURE"


@pytest.mark.parametrize("signature", ["", "00" * 32, "zz", "é" * 64])
def test_garbage_signature_is_a_clear_error_never_a_500(client, read_key, signature):
    response = signed(
        client, read_key, "GET", "/v1/test/read", headers={"X-Api-Signature": signature}
    )
    assert response.status_code == 401
    expected = "AUTH_MISSING_HEADERS" if not signature else "AUTH_INVALID_SIGNATURE"
    assert error_code(response) == expected


@pytest.mark.parametrize("header", list(signing.SIGNING_HEADERS))
def test_each_missing_header_is_auth_missing_headers(client, read_key, header):
    response = signed(client, read_key, "GET", "/v1/test/read", headers={header: None})
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "AUTH_MISSING_HEADERS"
    assert body["details"]["missing"] == [header]


def test_unsigned_request_lists_all_missing_headers(client, db):
    response = client.get("/v1/test/read")
    assert response.status_code == 401
    assert response.json()["error"]["details"]["missing"] == list(
        signing.SIGNING_HEADERS
    )


@pytest.mark.parametrize("key", ["hkt_doesnotexist", "../../etc", "x" * 65, "ключ"])
def test_unknown_key_is_auth_invalid_key(client, read_key, key):
    response = signed(
        client, read_key, "GET", "/v1/test/read", headers={"X-Api-Key": key}
    )
    assert response.status_code == 401
    assert error_code(response) == "AUTH_INVALID_KEY"


def test_revoked_key_is_auth_key_revoked_even_when_the_lookup_was_cached(
    client, read_key
):
    assert (
        signed(client, read_key, "GET", "/v1/test/read").status_code == 200
    )  # cached now
    apikey_revoke(api_key=read_key)
    response = signed(client, read_key, "GET", "/v1/test/read")
    assert response.status_code == 401
    assert error_code(response) == "AUTH_KEY_REVOKED"


@pytest.mark.parametrize(
    "timestamp", ["soon", "1714521600.5", "-5", "1e12", "1" * 17, "١٢٣"]
)
def test_malformed_timestamp_is_auth_invalid_timestamp(client, read_key, timestamp):
    response = signed(client, read_key, "GET", "/v1/test/read", timestamp=timestamp)
    assert response.status_code == 401
    assert error_code(response) == "AUTH_INVALID_TIMESTAMP"


@pytest.mark.parametrize(
    "nonce", ["short", "x" * 65, "has space1", "semi;colon", "ünïcode12"]
)
def test_malformed_nonce_is_auth_invalid_nonce(client, read_key, nonce):
    response = signed(client, read_key, "GET", "/v1/test/read", nonce=nonce)
    assert response.status_code == 401
    assert error_code(response) == "AUTH_INVALID_NONCE"


@pytest.mark.parametrize("nonce", ["7f3a1b8e", "A" * 64, "a-b_c-d_"])
def test_nonce_of_8_to_64_allowed_characters_is_accepted(client, read_key, nonce):
    assert (
        signed(client, read_key, "GET", "/v1/test/read", nonce=nonce).status_code == 200
    )


# -- timestamp window ----------------------------------------------------------


@pytest.mark.parametrize("offset", [-5_000, 5_000, 0])
def test_timestamp_exactly_at_the_drift_tolerance_is_accepted(
    client, read_key, server_clock, offset
):
    response = signed(client, read_key, "GET", "/v1/test/read", timestamp=NOW + offset)
    assert response.status_code == 200, response.content


def test_timestamp_one_ms_too_old_is_expired_with_server_time_and_skew(
    client, read_key, server_clock
):
    response = signed(client, read_key, "GET", "/v1/test/read", timestamp=NOW - 5_001)
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "AUTH_TIMESTAMP_EXPIRED"
    assert body["retryable"] is True
    assert body["details"] == {"server_time": NOW, "skew_ms": -5_001, "drift_ms": 5_000}


def test_timestamp_one_ms_too_far_ahead_is_in_future(client, read_key, server_clock):
    response = signed(client, read_key, "GET", "/v1/test/read", timestamp=NOW + 5_001)
    body = response.json()["error"]
    assert body["code"] == "AUTH_TIMESTAMP_IN_FUTURE"
    assert body["details"] == {"server_time": NOW, "skew_ms": 5_001, "drift_ms": 5_000}


def test_timestamp_in_seconds_is_expired_with_a_hint(client, read_key, server_clock):
    response = signed(client, read_key, "GET", "/v1/test/read", timestamp=NOW // 1000)
    body = response.json()["error"]
    assert body["code"] == "AUTH_TIMESTAMP_EXPIRED"
    assert "milliseconds" in body["message"]


def test_drift_tolerance_is_per_key(client, alice, server_clock):
    tight = ApiKeyFactory(user=alice, drift_ms=500)
    loose = ApiKeyFactory(user=alice, drift_ms=60_000)
    assert (
        signed(client, tight, "GET", "/v1/test/read", timestamp=NOW - 500).status_code
        == 200
    )
    late = signed(client, tight, "GET", "/v1/test/read", timestamp=NOW - 501)
    assert error_code(late) == "AUTH_TIMESTAMP_EXPIRED"
    early = signed(client, tight, "GET", "/v1/test/read", timestamp=NOW + 501)
    assert error_code(early) == "AUTH_TIMESTAMP_IN_FUTURE"
    for ts in (NOW - 60_000, NOW + 60_000):
        assert (
            signed(client, loose, "GET", "/v1/test/read", timestamp=ts).status_code
            == 200
        )
    too_late = signed(client, loose, "GET", "/v1/test/read", timestamp=NOW - 60_001)
    assert error_code(too_late) == "AUTH_TIMESTAMP_EXPIRED"


def test_changed_drift_applies_to_the_next_request(client, read_key, server_clock):
    assert (
        signed(
            client, read_key, "GET", "/v1/test/read", timestamp=NOW - 9_000
        ).status_code
        == 401
    )
    apikey_update(api_key=read_key, drift_ms=10_000)
    assert (
        signed(
            client, read_key, "GET", "/v1/test/read", timestamp=NOW - 9_000
        ).status_code
        == 200
    )


# -- nonces --------------------------------------------------------------------


def test_replayed_request_is_auth_nonce_reused(client, read_key):
    headers = sign_headers(read_key, "GET", "/v1/test/read")
    first = client.get("/v1/test/read", headers=headers)
    second = client.get("/v1/test/read", headers=headers)
    assert first.status_code == 200
    assert second.status_code == 401
    assert error_code(second) == "AUTH_NONCE_REUSED"


def test_same_nonce_with_a_new_timestamp_is_still_reused(client, read_key):
    ts = signing.now_ms()
    assert (
        signed(
            client, read_key, "GET", "/v1/test/read", nonce="n0nce-one", timestamp=ts
        ).status_code
        == 200
    )
    again = signed(
        client, read_key, "GET", "/v1/test/read", nonce="n0nce-one", timestamp=ts + 1
    )
    assert error_code(again) == "AUTH_NONCE_REUSED"


def test_same_nonce_on_another_key_is_accepted(client, alice, bob):
    mine = ApiKeyFactory(user=alice)
    theirs = ApiKeyFactory(user=bob)
    assert (
        signed(client, mine, "GET", "/v1/test/read", nonce="shared-nonce").status_code
        == 200
    )
    assert (
        signed(client, theirs, "GET", "/v1/test/read", nonce="shared-nonce").status_code
        == 200
    )


def test_request_with_a_bad_signature_does_not_burn_the_nonce(client, read_key):
    bad = signed(
        client, read_key, "GET", "/v1/test/read", nonce="keep-me-1", secret="wrong"
    )
    assert error_code(bad) == "AUTH_INVALID_SIGNATURE"
    assert (
        signed(client, read_key, "GET", "/v1/test/read", nonce="keep-me-1").status_code
        == 200
    )


def test_nonce_is_kept_for_the_widest_drift_window(read_key, monkeypatch):
    seen = {}

    def fake_add(key, value, timeout):
        seen["timeout"] = timeout
        return True

    monkeypatch.setattr(auth.cache, "add", fake_add)
    auth._claim_nonce(read_key, "abcdefgh", timestamp=NOW, now=NOW)
    assert seen["timeout"] == 61  # 60 s of the widest drift, rounded up, + 1 s


# -- misc ----------------------------------------------------------------------


def test_auth_errors_carry_request_id_server_time_and_rate_limit_headers(client, db):
    response = client.get("/v1/test/read")
    body = response.json()["error"]
    assert body["request_id"] == response["X-Request-Id"]
    assert response["X-Server-Time"].isdigit()
    assert response["X-RateLimit-Limit"] == "1200"
    assert response["X-RateLimit-Cost"] == "1"


def test_a_body_over_django_s_own_limit_is_413_not_a_500(client, read_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10  # below API_MAX_BODY_BYTES: it wins
    response = signed(client, read_key, "POST", "/v1/test/read", {"padding": "x" * 100})
    assert response.status_code == 413
    assert error_code(response) == "VALIDATION_BODY_TOO_LARGE"
    assert response.json()["error"]["details"] == {"max_bytes": 10}


def test_key_lookup_is_cached_between_requests(client, read_key):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert signed(client, read_key, "GET", "/v1/test/read").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = signed(client, read_key, "GET", "/v1/test/read")
    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "apikeys_apikey" in q["sql"]]


def test_checks_run_in_the_documented_order(client, read_key, server_clock):
    """headers/key -> timestamp -> signature -> nonce: each request below has
    every fault from its expected code onwards, and reports the first."""
    from apps.apikeys.services import apikey_create

    used = sign_headers(
        read_key, "GET", "/v1/test/read", timestamp=NOW, nonce="used-nonce"
    )
    assert client.get("/v1/test/read", headers=used).status_code == 200
    everything_wrong = {
        "X-Api-Timestamp": "soon",
        "X-Api-Signature": "00",
        "X-Api-Nonce": "used-nonce",
    }
    cases = [
        ({**everything_wrong, "X-Api-Key": "hkt_unknown"}, "AUTH_INVALID_KEY"),
        (everything_wrong, "AUTH_INVALID_TIMESTAMP"),
        (
            {**everything_wrong, "X-Api-Timestamp": str(NOW - 60_000)},
            "AUTH_TIMESTAMP_EXPIRED",
        ),
        ({**everything_wrong, "X-Api-Timestamp": str(NOW)}, "AUTH_INVALID_SIGNATURE"),
    ]
    for overrides, code in cases:
        response = signed(
            client, read_key, "GET", "/v1/test/read", timestamp=NOW, headers=overrides
        )
        assert error_code(response) == code
    replay = client.get("/v1/test/read", headers=used)
    assert error_code(replay) == "AUTH_NONCE_REUSED"
    revoked, _ = apikey_create(user=read_key.user, scope="read", ip_allowlist=[])
    apikey_revoke(api_key=revoked)
    response = signed(
        client,
        read_key,
        "GET",
        "/v1/test/read",
        headers={**everything_wrong, "X-Api-Key": revoked.key},
    )
    assert error_code(response) == "AUTH_KEY_REVOKED"


# The path line (docs/signing.md, "The prehash"): the path as sent, or either
# canonical spelling of it. The test client is WSGI without a raw URI, as
# granian is; tests/apikeys/test_path_spellings_live.py runs real servers.
ORDER_BY_REF = "/v1/orders/client%3Amm-1"


@pytest.mark.urls("exchange.urls")
@pytest.mark.parametrize(
    "signed_as",
    ["/v1/orders/client%3Amm-1", "/v1/orders/client:mm-1"],
    ids=["as-sent", "decoded"],
)
def test_either_canonical_spelling_of_the_path_verifies(client, read_key, signed_as):
    headers = sign_headers(read_key, "GET", signed_as)
    response = client.get(ORDER_BY_REF, headers=headers)
    # Authenticated: the order lookup answers, not the signature check.
    assert (response.status_code, error_code(response)) == (404, "ORDER_NOT_FOUND")


@pytest.mark.urls("exchange.urls")
def test_a_spelling_the_server_cannot_see_does_not_verify(client, read_key):
    lower = "/v1/orders/client%3amm-1"
    headers = sign_headers(read_key, "GET", lower)
    response = client.get(lower, headers=headers)
    assert (response.status_code, error_code(response)) == (
        401,
        "AUTH_INVALID_SIGNATURE",
    )
    assert response.json()["error"]["details"]["signed_path"] == (
        "/v1/orders/client:mm-1"
    )
    # Where the server passes the request target on, the path as sent verifies.
    headers = sign_headers(read_key, "GET", lower)
    response = client.get(lower, headers=headers, REQUEST_URI=lower)
    assert (response.status_code, error_code(response)) == (404, "ORDER_NOT_FOUND")


@pytest.mark.urls("exchange.urls")
def test_a_replay_in_another_spelling_is_refused_as_nonce_reused(client, read_key):
    headers = sign_headers(read_key, "GET", ORDER_BY_REF)
    assert error_code(client.get(ORDER_BY_REF, headers=headers)) == "ORDER_NOT_FOUND"
    replay = client.get("/v1/orders/client:mm-1", headers=headers)
    assert (replay.status_code, error_code(replay)) == (401, "AUTH_NONCE_REUSED")
