"""The client against a real server (pytest-django's live_server)."""

from __future__ import annotations

import time

import pytest

from exchange.client import ApiError, ExchangeClient, NetworkError
from tests.apikeys.factories import ApiKeyFactory

pytestmark = pytest.mark.urls("tests.client.urls")

LOCAL = ["127.0.0.1", "::1"]


@pytest.fixture
def trade_key(alice):
    return ApiKeyFactory(user=alice, scope="trade", ip_allowlist=LOCAL)


@pytest.fixture
def api(live_server, trade_key):
    with ExchangeClient(
        live_server.url, trade_key.key, trade_key.secret, backoff_ms=10
    ) as c:
        yield c


def test_client_signs_requests_the_server_accepts(api, trade_key):
    assert api.api_key()["key"] == trade_key.key


def test_public_call_needs_no_key(live_server):
    with ExchangeClient(live_server.url) as anonymous:
        assert set(anonymous.time()) == {"server_time", "iso"}


def test_signed_call_without_credentials_is_refused_locally(live_server):
    with ExchangeClient(live_server.url) as anonymous, pytest.raises(ValueError):
        anonymous.api_key()


def test_errors_are_raised_as_typed_api_errors(live_server, alice):
    read_key = ApiKeyFactory(user=alice, scope="read")
    with ExchangeClient(live_server.url, read_key.key, read_key.secret) as reader:
        with pytest.raises(ApiError) as exc:
            reader.place_order(
                pair="BTC-USD", side="buy", type="limit", price="1", size="1"
            )
    error = exc.value
    assert (error.status, error.code, error.retryable) == (
        403,
        "PERMISSION_SCOPE_MISSING",
        False,
    )
    assert error.details == {"required_scope": "trade", "key_scope": "read"}
    assert error.request_id


def test_wrong_secret_is_auth_invalid_signature(live_server, trade_key):
    with ExchangeClient(live_server.url, trade_key.key, "wrong") as impostor:
        with pytest.raises(ApiError) as exc:
            impostor.api_key()
    assert exc.value.code == "AUTH_INVALID_SIGNATURE"


def test_place_order_sets_a_client_order_id(api, fake_orders):
    order = api.place_order(
        pair="BTC-USD", side="buy", type="limit", price="64000.00", size="1"
    )
    assert len(order["client_order_id"]) == 32
    assert [a["client_order_id"] for a in fake_orders.ATTEMPTS] == [
        order["client_order_id"]
    ]


def test_timed_out_place_order_is_retried_with_the_same_client_order_id(
    live_server, trade_key, fake_orders
):
    fake_orders.SCRIPT.extend(["sleep"])
    with ExchangeClient(
        live_server.url, trade_key.key, trade_key.secret, timeout=0.5, backoff_ms=10
    ) as api:
        order = api.place_order(
            pair="BTC-USD",
            side="buy",
            type="limit",
            price="64000.00",
            size="1",
            client_order_id="bot-7",
        )
    assert fake_orders.IDLE.wait(5)
    time.sleep(0.2)  # let the abandoned request's thread finish its bookkeeping
    attempts = fake_orders.ATTEMPTS
    assert [a["client_order_id"] for a in attempts] == ["bot-7", "bot-7"]
    assert (
        attempts[0]["nonce"] != attempts[1]["nonce"]
    )  # fresh nonce, so no AUTH_NONCE_REUSED
    assert order == {"id": 1, "client_order_id": "bot-7", "price": "64000.00"}


def test_place_order_retries_5xx_and_gives_up_after_max_retries(
    live_server, trade_key, fake_orders
):
    fake_orders.SCRIPT.extend(["fail", "fail"])
    with ExchangeClient(
        live_server.url, trade_key.key, trade_key.secret, backoff_ms=1
    ) as api:
        assert api.place_order(pair="BTC-USD", client_order_id="c-1")["id"] == 1
    assert len(fake_orders.ATTEMPTS) == 3
    fake_orders.SCRIPT.extend(["fail"] * 5)
    with ExchangeClient(
        live_server.url, trade_key.key, trade_key.secret, backoff_ms=1, max_retries=2
    ) as api:
        with pytest.raises(ApiError) as exc:
            api.place_order(pair="BTC-USD", client_order_id="c-2")
    assert exc.value.status == 503 and exc.value.retryable
    assert [a["client_order_id"] for a in fake_orders.ATTEMPTS[3:]] == ["c-2"] * 3


def test_place_order_does_not_retry_a_client_error(live_server, alice, fake_orders):
    read_key = ApiKeyFactory(user=alice, scope="read")
    with ExchangeClient(live_server.url, read_key.key, read_key.secret) as reader:
        with pytest.raises(ApiError):
            reader.place_order(pair="BTC-USD")
    assert fake_orders.ATTEMPTS == []  # refused at the scope check, once


def test_client_learns_the_server_clock_and_signs_with_it(api, monkeypatch):
    import apps.core.middleware
    from exchange.client import signing

    ahead = 30_000
    monkeypatch.setattr(
        apps.core.middleware, "now_ms", lambda: signing.now_ms() + ahead
    )
    # The first signature uses local time, 30 s behind the server: the client
    # learns the offset from the rejection's X-Server-Time and retries once.
    assert api.api_key()["key"]
    assert abs(api.clock_offset_ms - ahead) < 1_000
    assert api.api_key()["key"]  # now right first time
    monkeypatch.setattr(
        apps.core.middleware, "now_ms", lambda: signing.now_ms() - ahead
    )
    assert abs(api.sync_time() + ahead) < 1_000


def test_unreachable_server_is_a_network_error(db):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ExchangeClient(f"http://127.0.0.1:{port}", timeout=2) as api:
        with pytest.raises(NetworkError) as exc:
            api.time()
    assert exc.value.status == 0 and exc.value.retryable
