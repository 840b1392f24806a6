"""The client's batch calls against a real server (live_server, no matcher)."""

from __future__ import annotations

import pytest

from exchange.client import ExchangeClient
from tests.apikeys.factories import ApiKeyFactory
from tests.helpers import USD, bal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, funded, alice, settings):
    settings.ORDER_RESULT_TIMEOUT_MS = 30  # no matcher: answered pending
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1", "::1"])
    with ExchangeClient(live_server.url, key.key, key.secret) as c:
        yield c


def test_place_batch_and_cancel_batch_round_trip(api, funded, alice, assert_ledger):
    orders = [
        {"pair": "BTC-USD", "side": "buy", "type": "limit", "price": p, "size": "0.01"}
        for p in ("60000", "60000.001", "60001")
    ]
    placed = api.place_batch(orders)
    assert [r["status"] for r in placed] == [202, 400, 202]
    assert placed[1]["error"]["code"] == "ORDER_PRICE_OFF_TICK"
    coids = [r["order"]["client_order_id"] for r in (placed[0], placed[2])]
    assert all(len(c) == 32 for c in coids)
    # Resending the same orders (same client_order_ids) replays them.
    sent = [
        {**orders[0], "client_order_id": coids[0]},
        {**orders[2], "client_order_id": coids[1]},
    ]
    assert [r["status"] for r in api.place_batch(sent)] == [200, 200]
    held = bal(alice, funded.quote)[1]
    assert held > 0 and bal(alice, funded.quote)[0] == 1_000_000 * USD - held

    cancelled = api.cancel_batch(
        order_ids=[placed[0]["order"]["id"]], client_order_ids=[coids[1], "nope"]
    )
    assert [(r["status"], r.get("cancel_result")) for r in cancelled] == [
        (202, "pending"),
        (202, "pending"),
        (404, None),
    ]
    assert cancelled[2]["error"]["code"] == "ORDER_NOT_FOUND"
    assert_ledger()
