"""ExchangeClient.amend_order against a real server with a matcher running."""

from __future__ import annotations

import pytest

from exchange.client import ApiError, ExchangeClient
from tests.apikeys.factories import ApiKeyFactory
from tests.helpers import matcher_running

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running_matcher(matcher, settings):
    settings.ORDER_RESULT_TIMEOUT_MS = 20_000
    with matcher_running(matcher):
        yield matcher


def test_amend_order_returns_the_order_after_the_amend(
    live_server, funded, alice, running_matcher, assert_ledger
):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1", "::1"])
    with ExchangeClient(live_server.url, key.key, key.secret) as api:
        placed = api.place_order(
            pair="BTC-USD",
            side="buy",
            type="limit",
            price="63000.00",
            size="0.0100",
            client_order_id="amend-me",
        )
        assert placed["status"] == "open"
        cut = api.amend_order(placed["id"], size="0.0050")
        assert (cut["id"], cut["size"], cut["held"]) == (
            placed["id"],
            "0.00500000",
            "315.630000",
        )
        moved = api.amend_order("client:amend-me", price="62000.00", size="0.0060")
        assert (moved["price"], moved["size"]) == ("62000.000000", "0.00600000")
        with pytest.raises(ApiError) as refused:
            api.amend_order(placed["id"], size="0.0060")
    assert refused.value.code == "ORDER_AMEND_NO_CHANGE"
    assert_ledger()
