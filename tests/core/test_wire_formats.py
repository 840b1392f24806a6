"""Every timestamp on the wire has one form: ISO 8601 in UTC ending in Z."""

from __future__ import annotations

import re

import pytest

from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.helpers import place

pytestmark = pytest.mark.django_db
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _timestamps(value, path="$"):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _timestamps(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _timestamps(v, f"{path}[{i}]")
    elif isinstance(value, str) and ISO.match(value):
        yield path, value


def test_every_timestamp_is_utc_with_a_z(client, funded, alice, bob, matcher):
    key = ApiKeyFactory(user=alice, scope="withdraw", ip_allowlist=["127.0.0.1"])
    place(bob, funded, side="sell", price="63000", size="0.01")
    matcher()
    placed = signed(
        client,
        key,
        "POST",
        "/v1/orders",
        {
            "pair": "BTC-USD",
            "side": "buy",
            "type": "limit",
            "price": "63000",
            "size": "0.01",
            "response_type": "ack",
        },
    ).json()
    matcher()
    answers = {
        "order": signed(client, key, "GET", f"/v1/orders/{placed['id']}?fills=true"),
        "orders": signed(client, key, "GET", "/v1/orders"),
        "fills": signed(client, key, "GET", "/v1/fills"),
        "trades": client.get("/v1/trades/BTC-USD"),
        "time": client.get("/v1/time"),
        "api-key": signed(client, key, "GET", "/v1/account/api-key"),
        "timer": signed(
            client, key, "POST", "/v1/orders/cancel-all-after", {"timeout_s": 60}
        ),
        "withdrawal": signed(
            client,
            key,
            "POST",
            "/v1/withdrawals",
            {"asset": "BTC", "amount": "0.1", "address": "bc1qexampleaddress"},
        ),
    }
    seen = {}
    for name, response in answers.items():
        created = name == "withdrawal"
        assert response.status_code == (201 if created else 200), (
            name,
            response.content,
        )
        seen[name] = list(_timestamps(response.json()))
    for name, stamps in seen.items():
        for path, stamp in stamps:
            assert stamp.endswith("Z"), (name, path, stamp)
    # Each kind of answer was checked on at least one timestamp.
    assert all(seen.values()), {k: v for k, v in seen.items() if not v}
