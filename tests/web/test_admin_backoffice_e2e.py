"""The staff back office against a running exchange: daphne and the matcher
as real processes (tests/markets/test_ws_e2e.py's ``exchange``), the admin
through Django's test client on the same database, orders and streams
through the Python client, as a trader's bot sees them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.urls import reverse

from apps.accounts.services import balance_deposit
from apps.markets.models import Asset, Pair, PairStatus
from apps.markets.selectors import PAIR_MEMO_S
from apps.matching.models import PairOwner
from apps.orders.models import Order, OrderStatus
from exchange.client import ApiError, ExchangeClient, TradingStream
from tests.apikeys.factories import ApiKeyFactory
from tests.markets.test_ws_e2e import exchange
from tests.matching.processes import stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def trader(base: str, key: Any) -> ExchangeClient:
    return ExchangeClient(base, key.key, key.secret)


def wait_for_status(order_id: str, status: str, timeout: float = 20) -> Order:
    deadline = time.monotonic() + timeout
    while True:
        order = Order.objects.get(uuid=order_id)
        if order.status == status:
            return order
        assert time.monotonic() < deadline, (order.status, order.reject_reason)
        time.sleep(0.05)


def list_eth_usd(admin_client: Any) -> Pair:
    """ETH and ETH-USD, added the way staff add them: the admin's forms."""
    response = admin_client.post(
        reverse("admin:markets_asset_add"),
        {
            "code": "ETH",
            "name": "Ether",
            "scale": 8,
            "circulating_supply": 120_400_000,
            "deposit_enabled": "on",
            "withdraw_enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    eth, usd = Asset.objects.get(code="ETH"), Asset.objects.get(code="USD")
    response = admin_client.post(
        reverse("admin:markets_pair_add"),
        {
            "symbol": "ETH-USD",
            "base": eth.pk,
            "quote": usd.pk,
            "tick_size": 10_000,  # 0.01 USD
            "lot_size": 10_000,  # 0.0001 ETH
            "min_size": 100_000,
            "min_notional": 1_000_000,
            "maker_fee_bps": 10,
            "taker_fee_bps": 20,
            "price_band_bps": 500,
            "status": PairStatus.TRADING,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Pair.objects.get(symbol="ETH-USD")


def test_a_pair_added_in_the_admin_trades_without_restarting_the_matcher(
    admin_client, funded, alice, bob, tmp_path, monkeypatch
):
    monkeypatch.setenv("MATCHER_NEW_PAIRS_POLL_MS", "200")
    seller = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1"])
    buyer = ApiKeyFactory(user=bob, scope="trade", ip_allowlist=["127.0.0.1"])
    with exchange(tmp_path, pairs=None) as (matcher, base):
        # Only once the matcher has taken the pairs it started with is
        # ETH-USD new to it (a slow start would find it at start-up).
        deadline = time.monotonic() + 60
        while not PairOwner.objects.filter(pair=funded).exists():
            assert matcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        eth_usd = list_eth_usd(admin_client)
        balance_deposit(user=alice, asset=eth_usd.base, amount=10**8)
        with trader(base, seller) as a, trader(base, buyer) as b:
            ask = a.place_order(
                pair="ETH-USD", side="sell", type="limit", price="3000", size="0.5"
            )
            wait_for_status(ask["id"], OrderStatus.OPEN)
            bid = b.place_order(
                pair="ETH-USD", side="buy", type="limit", price="3000", size="0.5"
            )
            filled = wait_for_status(bid["id"], OrderStatus.FILLED)
            assert filled.filled_size == 5_000  # lots of 0.0001 ETH
            assert b.get_order(bid["id"])["status"] == "filled"
            trades = b.trades("ETH-USD")
            assert [(t["price"], t["size"]) for t in trades["trades"]] == [
                ("3000.000000", "0.50000000")
            ]
            # Halting it in the admin: the next order through REST is refused.
            response = admin_client.post(
                reverse("admin:markets_pair_changelist"),
                {"action": "set_halted", "_selected_action": [eth_usd.pk]},
            )
            assert response.status_code == 302
            time.sleep(PAIR_MEMO_S + 0.2)  # what each API process may reuse
            with pytest.raises(ApiError) as refused:
                b.place_order(
                    pair="ETH-USD", side="buy", type="limit", price="3000", size="0.5"
                )
            assert (refused.value.status, refused.value.code) == (409, "MARKET_HALTED")
        assert matcher.poll() is None
        log = stop(matcher)
    assert "took new pair ETH-USD" in log


def test_disabling_a_key_in_the_admin_closes_its_private_stream(
    admin_client, funded, alice, tmp_path
):
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1"])
    with exchange(tmp_path) as (_matcher, base):
        with TradingStream(base, key=key.key, secret=key.secret) as stream:
            stream.subscribe_private("orders")
            stream.subscribe_private("balances")
            response = admin_client.post(
                reverse("admin:apikeys_apikey_changelist"),
                {"action": "disable_keys", "_selected_action": [key.pk]},
            )
            assert response.status_code == 302
            deadline = time.monotonic() + 5
            while True:
                message = stream.recv(timeout=max(0.0, deadline - time.monotonic()))
                if message.get("type") == "error":
                    break
            assert message["id"] is None
            assert message["error"]["code"] == "AUTH_KEY_DISABLED"
            # The private subscriptions are gone: they need a new auth.
            with pytest.raises(ApiError) as again:
                stream.subscribe_private("orders")
            assert again.value.code == "AUTH_REQUIRED"
        with trader(base, key) as client, pytest.raises(ApiError) as refused:
            client.balances()
        assert (refused.value.status, refused.value.code) == (401, "AUTH_KEY_DISABLED")
