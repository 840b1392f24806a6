"""Two server processes on one Redis draw on one rate budget and one nonce
store: daphne (WebSockets and REST) beside granian (REST in production, see
README "Deploy at scale")."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from django_ratelimit.core import _get_window

from apps.apikeys import services
from exchange.client import signing
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.servers import start_servers, stop_servers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs REDIS_URL: server processes share rate limits and nonces "
        "through Redis (the database-cache default is covered by the other tests)",
    ),
]


def _key_id_with_a_fresh_window(need_s: int = 20) -> str:
    """A key id whose budget window has at least ``need_s`` left, so the test
    cannot straddle a window end (django-ratelimit offsets each value's window
    by a hash of it, so trying a few ids is enough and costs no waiting)."""
    while True:
        key_id = services.new_key_id()
        if _get_window(key_id, 60) - time.time_ns() // 1_000_000_000 >= need_s:
            return key_id


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_one_budget_and_one_nonce_store(alice, monkeypatch):
    procs, (server_a, server_b) = start_servers(["daphne", "granian"])
    try:
        key_id = _key_id_with_a_fresh_window()
        monkeypatch.setattr(services, "new_key_id", lambda: key_id)
        api_key = ApiKeyFactory(user=alice, scope="read", weight_per_minute=6)
        path = "/v1/account/api-key"

        def call(base: str, headers: dict[str, str] | None = None) -> httpx.Response:
            headers = headers or signing.signed_headers(
                secret=api_key.secret, key=api_key.key, method="GET", path=path
            )
            return httpx.get(base + path, headers=headers, timeout=10)

        first_headers = signing.signed_headers(
            secret=api_key.secret, key=api_key.key, method="GET", path=path
        )
        first = call(server_a, first_headers)
        assert first.status_code == 200, first.text
        assert first.headers["X-RateLimit-Remaining"] == "5"

        replay = call(server_b, first_headers)
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "AUTH_NONCE_REUSED"

        remaining = [
            call(server).headers["X-RateLimit-Remaining"]
            for server in (server_b, server_a, server_b, server_a, server_b)
        ]
        assert remaining == ["4", "3", "2", "1", "0"]

        for server in (server_a, server_b):
            refused = call(server)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert int(refused.headers["Retry-After"]) >= 1
    finally:
        stop_servers(procs)
