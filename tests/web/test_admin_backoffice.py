"""The staff back office (Django admin), in process: every staff change goes
through the services, is written to the admin log (the object's "History"),
and takes effect on the next API request. The same with real daphne and
matcher processes: tests/web/test_admin_backoffice_e2e.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from apps.accounts.models import Account, Tier
from apps.accounts.services import balance_deposit
from apps.apikeys.models import ApiKey
from apps.markets.models import Pair, PairStatus
from apps.matching.models import PairOwner
from apps.matching.worker import MatcherProcess
from apps.orders import bus
from apps.orders.models import Order, OrderStatus
from tests.apikeys.helpers import signed
from tests.factories import AssetFactory, PairFactory

pytestmark = pytest.mark.django_db


def order_body(pair: str = "BTC-USD", **fields: str) -> dict[str, str]:
    return {
        "pair": pair,
        "side": "buy",
        "type": "limit",
        "price": "100",
        "size": "0.01",
        **fields,
    }


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def log_messages(obj: Any) -> list[str]:
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_id=str(obj.pk),
        action_flag=CHANGE,
    ).order_by("pk")
    return [entry.get_change_message() for entry in entries]


def action(admin_client: Any, model: str, name: str, *pks: int, **extra: Any) -> Any:
    return admin_client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": name, "_selected_action": list(pks), **extra},
    )


# ------------------------------------------------------------------- pairs


def test_halting_a_pair_in_the_admin_makes_the_next_order_market_halted(
    admin_client, client, funded, trade_key
):
    placed = signed(client, trade_key, "POST", "/v1/orders", order_body())
    assert placed.status_code in (201, 202)
    response = action(admin_client, "markets_pair", "set_halted", funded.pk)
    assert response.status_code == 302
    refused = signed(client, trade_key, "POST", "/v1/orders", order_body())
    assert refused.status_code == 409
    assert error_code(refused) == "MARKET_HALTED"
    assert log_messages(funded) == ["Set the status to halted"]
    action(admin_client, "markets_pair", "set_trading", funded.pk)
    again = signed(client, trade_key, "POST", "/v1/orders", order_body())
    assert again.status_code in (201, 202)


def pair_form(pair: Pair, **overrides: Any) -> dict[str, Any]:
    data = {
        "symbol": pair.symbol,
        "base": pair.base_id,
        "quote": pair.quote_id,
        "tick_size": pair.tick_size,
        "lot_size": pair.lot_size,
        "min_size": pair.min_size,
        "min_notional": pair.min_notional,
        "maker_fee_bps": pair.maker_fee_bps,
        "taker_fee_bps": pair.taker_fee_bps,
        "price_band_bps": pair.price_band_bps,
        "status": pair.status,
    }
    return data | overrides


def test_a_listed_pair_changes_status_and_band_but_keeps_its_grid_and_fees(
    admin_client, client, funded, trade_key
):
    url = reverse("admin:markets_pair_change", args=[funded.pk])
    response = admin_client.post(
        url,
        pair_form(
            funded,
            tick_size=1,
            lot_size=1,
            min_size=1,
            maker_fee_bps=0,
            taker_fee_bps=0,
            price_band_bps=250,
            status=PairStatus.CANCEL_ONLY,
        ),
    )
    assert response.status_code == 302
    row = Pair.objects.get(pk=funded.pk)
    assert (row.status, row.price_band_bps) == (PairStatus.CANCEL_ONLY, 250)
    assert (row.tick_size, row.lot_size, row.min_size) == (10_000, 10_000, 10_000)
    assert (row.maker_fee_bps, row.taker_fee_bps) == (10, 20)
    refused = signed(client, trade_key, "POST", "/v1/orders", order_body())
    assert error_code(refused) == "MARKET_CANCEL_ONLY"
    (message,) = log_messages(funded)
    assert "Status" in message and "Price band bps" in message


def test_a_pair_cannot_be_deleted_in_the_admin(admin_client, btc_usd):
    url = reverse("admin:markets_pair_delete", args=[btc_usd.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Pair.objects.filter(pk=btc_usd.pk).exists()


def test_adding_a_pair_in_the_admin_lists_it_through_the_service(admin_client, usd):
    eth = AssetFactory(code="ETH", name="Ether", scale=8)
    data = {
        "symbol": "eth-usd",
        "base": eth.pk,
        "quote": usd.pk,
        "tick_size": 10_000,
        "lot_size": 100_000,
        "min_size": 100_000,
        "min_notional": 1_000_000,
        "maker_fee_bps": 5,
        "taker_fee_bps": 15,
        "price_band_bps": 500,
        "status": PairStatus.TRADING,
    }
    response = admin_client.post(reverse("admin:markets_pair_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    pair = Pair.objects.get(symbol="ETH-USD")
    assert (pair.tick_size, pair.lot_size, pair.taker_fee_bps) == (10_000, 100_000, 15)
    added = LogEntry.objects.get(action_flag=ADDITION, object_id=str(pair.pk))
    assert added.object_repr == "ETH-USD"


def test_adding_a_pair_whose_grid_makes_fractional_notionals_is_refused(
    admin_client, usd
):
    eth = AssetFactory(code="ETH", name="Ether", scale=8)
    data = {
        "symbol": "ETH-USD",
        "base": eth.pk,
        "quote": usd.pk,
        "tick_size": 1,  # 0.000001 USD x 1 lot of 10^-8 ETH: not whole
        "lot_size": 1,
        "min_size": 1,
        "min_notional": 0,
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "price_band_bps": 500,
        "status": PairStatus.TRADING,
    }
    response = admin_client.post(reverse("admin:markets_pair_add"), data)
    assert response.status_code == 200
    assert "multiple of 10^base.scale" in response.content.decode()
    assert not Pair.objects.filter(symbol="ETH-USD").exists()


def test_a_matcher_of_all_pairs_takes_a_new_pair_fenced(btc_usd, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # SQLite's lock file
    matcher = MatcherProcess(None)
    shard = MatcherProcess(["BTC-USD"])
    try:
        matcher.acquire()
        waker = bus.WakeListener(list(matcher.books))
        assert matcher.take_new_pairs(waker) == []
        eth = AssetFactory(code="ETH", name="Ether", scale=8)
        eth_usd = PairFactory(symbol="ETH-USD", base=eth, quote=btc_usd.quote)
        before = PairOwner.objects.filter(pair=eth_usd).first()
        assert before is None
        assert matcher.take_new_pairs(waker) == ["ETH-USD"]
        owner = PairOwner.objects.get(pair=eth_usd)
        assert matcher.books[eth_usd.pk].epoch == owner.epoch == 1
        assert owner.owner == matcher.owner
        assert bus.wake_key(eth_usd.pk) in waker.keys
        assert matcher.take_new_pairs(waker) == []  # once
        # A matcher started with --pairs keeps exactly its list.
        shard.books = {}
        assert shard.take_new_pairs(waker) == []
    finally:
        matcher.locks.close()
        shard.locks.close()


# -------------------------------------------------------------------- keys


def test_disabling_a_key_in_the_admin_refuses_its_next_request(
    admin_client, client, funded, trade_key
):
    assert signed(client, trade_key, "GET", "/v1/orders").status_code == 200
    response = action(admin_client, "apikeys_apikey", "disable_keys", trade_key.pk)
    assert response.status_code == 302
    refused = signed(client, trade_key, "GET", "/v1/orders")
    assert refused.status_code == 401
    assert error_code(refused) == "AUTH_KEY_DISABLED"
    action(admin_client, "apikeys_apikey", "enable_keys", trade_key.pk)
    assert signed(client, trade_key, "GET", "/v1/orders").status_code == 200
    assert log_messages(trade_key) == ["Disabled the key", "Enabled the key"]


def test_a_revoked_key_cannot_be_disabled_and_the_admin_says_why(
    admin_client, trade_key
):
    action(admin_client, "apikeys_apikey", "revoke_keys", trade_key.pk)
    response = action(admin_client, "apikeys_apikey", "disable_keys", trade_key.pk)
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=trade_key.pk).disabled_at is None
    page = admin_client.get(reverse("admin:apikeys_apikey_changelist"))
    assert "A revoked key cannot be disabled" in page.content.decode()
    assert log_messages(trade_key) == ["Revoked the key"]


def test_the_admin_finds_keys_by_id_user_or_label(admin_client, alice, bob):
    from tests.apikeys.factories import ApiKeyFactory

    mine = ApiKeyFactory(user=alice, scope="read", label="grid bot")
    theirs = ApiKeyFactory(user=bob, scope="read", label="")
    url = reverse("admin:apikeys_apikey_changelist")
    for query, found, hidden in (
        (mine.key, mine, theirs),
        ("bob", theirs, mine),
        ("grid", mine, theirs),
    ):
        html = admin_client.get(url, {"q": query}).content.decode()
        assert found.key in html and hidden.key not in html, query


def test_a_staff_edit_of_a_key_applies_to_its_next_request(
    admin_client, client, funded, trade_key
):
    url = reverse("admin:apikeys_apikey_change", args=[trade_key.pk])
    response = admin_client.post(
        url,
        {
            "label": "",
            "scope": "read",
            "ip_allowlist_text": "127.0.0.1",
            "drift_ms": "5000",
            "weight_per_minute": "1200",
        },
    )
    assert response.status_code == 302
    refused = signed(client, trade_key, "POST", "/v1/orders", order_body())
    assert error_code(refused) == "PERMISSION_SCOPE_MISSING"
    (message,) = log_messages(trade_key)
    assert "Scope" in message


# ------------------------------------------------------------------- users


def test_the_tier_changes_through_the_service_and_is_logged(admin_client, alice):
    account = Account.objects.get(user=alice)
    action(admin_client, "accounts_account", "set_verified", account.pk)
    assert Account.objects.get(pk=account.pk).tier == Tier.VERIFIED
    url = reverse("admin:accounts_account_change", args=[account.pk])
    assert admin_client.post(url, {"tier": Tier.MARKET_MAKER}).status_code == 302
    assert Account.objects.get(pk=account.pk).tier == Tier.MARKET_MAKER
    messages = log_messages(account)
    assert messages[0] == "Set the tier to verified"
    assert "Tier" in messages[1]


def test_a_verified_tier_set_in_the_admin_opens_the_deep_book(
    admin_client, client, btc_usd, alice
):
    from tests.apikeys.factories import ApiKeyFactory

    key = ApiKeyFactory(user=alice, scope="read")
    path = "/v1/orderbook/BTC-USD?depth=1000"
    assert signed(client, key, "GET", path).status_code == 400
    account = Account.objects.get(user=alice)
    action(admin_client, "accounts_account", "set_verified", account.pk)
    assert signed(client, key, "GET", path).status_code == 200


def test_the_adjust_action_is_logged_with_its_reason(admin_client, alice, btc):
    balance = balance_deposit(user=alice, asset=btc, amount=100_000_000)
    response = action(
        admin_client,
        "accounts_balance",
        "adjust",
        balance.pk,
        apply="1",
        amount="-0.25",
        reason="chargeback 7",
    )
    assert response.status_code == 302
    assert log_messages(balance) == [
        "Adjusted available by -0.25000000 BTC: chargeback 7"
    ]


@pytest.mark.parametrize(
    "model",
    [
        "accounts_balance",
        "accounts_ledgerentry",
        "accounts_withdrawal",
        "orders_order",
        "orders_trade",
        "orders_ordercommand",
        "markets_marketevent",
    ],
)
def test_financial_records_are_read_only_in_the_admin(admin_client, model):
    assert admin_client.get(reverse(f"admin:{model}_add")).status_code == 403
    assert admin_client.get(reverse(f"admin:{model}_changelist")).status_code == 200


def test_orders_cannot_be_changed_or_deleted_in_the_admin(
    admin_client, funded, trade_key, client
):
    placed = signed(client, trade_key, "POST", "/v1/orders", order_body())
    order = Order.objects.get(uuid=placed.json()["id"])
    change = reverse("admin:orders_order_change", args=[order.pk])
    admin_client.post(change, {"status": OrderStatus.CANCELLED})
    delete = reverse("admin:orders_order_delete", args=[order.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_key_disabled_in_the_admin_ends_its_websocket_session_as_disabled(
    admin_client, alice, settings
):
    from tests.apikeys.factories import ApiKeyFactory
    from tests.orders.test_ws_session import Ws, auth, auth_ok, code

    settings.WS_KEY_CHECK_MS = 100
    key = ApiKeyFactory(user=alice, scope="read")
    ws = Ws()
    assert auth_ok(auth(ws, key))
    sub = ws.request({"op": "subscribe", "id": "b", "channel": "balances"})
    assert sub["type"] == "ack"
    action(admin_client, "apikeys_apikey", "disable_keys", key.pk)
    ended = ws.next(timeout=1.5)
    assert ended["id"] is None and code(ended) == "AUTH_KEY_DISABLED"
    again = ws.request({"op": "subscribe", "id": "c", "channel": "balances"})
    assert code(again) == "AUTH_REQUIRED"
    ws.close()
