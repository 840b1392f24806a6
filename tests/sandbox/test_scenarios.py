"""X-Sandbox-Scenario: each scenario does exactly what docs/sandbox.md
("Fault injection") says, and leaves balances and the ledger clean."""

from __future__ import annotations

import pytest

from apps.accounts.models import LedgerEntry, LedgerReason
from apps.accounts.sandbox import HOUSE_USERNAME
from apps.core.scenarios import SCENARIOS
from apps.orders import scenarios as order_scenarios
from apps.orders.models import Order, Trade
from apps.orders.validation import OrderRequest
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed
from tests.helpers import BTC, USD, bal

pytestmark = pytest.mark.django_db

BUY = {
    "pair": "BTC-USD",
    "side": "buy",
    "type": "limit",
    "price": "60000.00",
    "size": "0.0100",
}


@pytest.fixture(autouse=True)
def quick_wait(settings):
    """No matcher thread runs: answers come back pending after 30 ms, and
    the tests drain the queue with the in-process ``matcher``."""
    settings.ORDER_RESULT_TIMEOUT_MS = 30


def place(client, key, scenario, payload=BUY):
    headers = None if scenario is None else {"X-Sandbox-Scenario": scenario}
    return signed(client, key, "POST", "/v1/orders", payload, headers=headers)


def untouched(alice, pair):
    return bal(alice, pair.base) == (10 * BTC, 0) and bal(alice, pair.quote) == (
        1_000_000 * USD,
        0,
    )


# ------------------------------------------------------------------ generic


def test_rate_limited_answers_429_with_retry_after_and_charges_nothing(
    client, funded, alice, trade_key, assert_ledger
):
    refused = signed(
        client,
        trade_key,
        "GET",
        "/v1/account/balances",
        headers={"X-Sandbox-Scenario": "rate_limited"},
    )
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED" and error["retryable"]
    assert error["details"]["scenario"] == "rate_limited"
    assert error["details"]["remaining"] == 0
    assert int(refused["Retry-After"]) >= 1
    assert refused["X-RateLimit-Remaining"] == "0"
    normal = signed(client, trade_key, "GET", "/v1/account/balances")
    assert normal.status_code == 200
    limit, cost = int(normal["X-RateLimit-Limit"]), int(normal["X-RateLimit-Cost"])
    assert int(normal["X-RateLimit-Remaining"]) == limit - cost  # first charge
    assert_ledger()


def test_rate_limited_on_an_order_places_nothing(
    client, funded, alice, trade_key, assert_ledger
):
    response = place(client, trade_key, "rate_limited")
    assert error_code(response) == "RATE_LIMIT_EXCEEDED"
    assert not Order.objects.exists() and untouched(alice, funded)
    assert_ledger()


def test_overloaded_answers_503_system_overloaded_and_places_nothing(
    client, funded, alice, trade_key, assert_ledger
):
    response = place(client, trade_key, "overloaded")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "SYSTEM_OVERLOADED" and error["retryable"]
    assert error["details"] == {"scenario": "overloaded"}
    assert response["Retry-After"] == "1"
    assert not Order.objects.exists() and untouched(alice, funded)
    assert_ledger()


@pytest.mark.parametrize("name", ["explode", "", "partial-fill"])
def test_an_unknown_scenario_is_a_clear_400(client, funded, alice, trade_key, name):
    response = place(client, trade_key, name)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_SANDBOX_SCENARIO"
    assert error["details"]["scenarios"] == list(SCENARIOS)
    assert not Order.objects.exists() and untouched(alice, funded)


def test_an_order_scenario_elsewhere_is_a_clear_400(client, funded, trade_key):
    response = signed(
        client,
        trade_key,
        "GET",
        "/v1/account/balances",
        headers={"X-Sandbox-Scenario": "partial_fill"},
    )
    assert error_code(response) == "VALIDATION_SANDBOX_SCENARIO"
    assert response.json()["error"]["details"]["scenarios"] == [
        "rate_limited",
        "overloaded",
    ]


def test_a_scenario_needs_a_good_signature_first(client, funded, trade_key):
    response = (
        place(client, trade_key, "explode")
        if False
        else signed(
            client,
            trade_key,
            "POST",
            "/v1/orders",
            BUY,
            headers={"X-Sandbox-Scenario": "overloaded", "X-Api-Signature": "0" * 64},
        )
    )
    assert error_code(response) == "AUTH_INVALID_SIGNATURE"


# ------------------------------------------------------------------ orders


def test_reject_insufficient_funds_refuses_as_a_real_shortfall(
    client, funded, alice, trade_key, assert_ledger
):
    response = place(client, trade_key, "reject_insufficient_funds")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ACCOUNT_INSUFFICIENT_FUNDS" and not error["retryable"]
    assert error["details"]["asset"] == "USD"
    assert error["details"]["scenario"] == "reject_insufficient_funds"
    assert not Order.objects.exists() and untouched(alice, funded)
    assert_ledger()


def test_reject_insufficient_funds_validates_the_order_first(client, funded, trade_key):
    response = place(
        client, trade_key, "reject_insufficient_funds", {**BUY, "price": "1.001"}
    )
    assert error_code(response) == "ORDER_PRICE_OFF_TICK"


def test_execution_unknown_processes_the_order_and_answers_504(
    client, funded, alice, trade_key, matcher, assert_ledger
):
    body = {**BUY, "client_order_id": "lost-1"}
    response = place(client, trade_key, "execution_unknown", body)
    assert response.status_code == 504
    error = response.json()["error"]
    assert error["code"] == "SYSTEM_EXECUTION_UNKNOWN" and error["retryable"]
    assert error["details"] == {
        "scenario": "execution_unknown",
        "client_order_id": "lost-1",
    }
    matcher()
    found = signed(client, trade_key, "GET", "/v1/orders/client:lost-1")
    assert found.status_code == 200 and found.json()["status"] == "open"
    # A resend with the same client_order_id (header and all, as a retrying
    # client does) replays the order: reconciliation works.
    again = place(client, trade_key, "execution_unknown", body)
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == found.json()["id"]
    assert Order.objects.count() == 1
    assert bal(alice, funded.quote)[1] > 0  # the open order's hold, once
    assert_ledger()


def test_execution_unknown_needs_a_client_order_id(client, funded, alice, trade_key):
    response = place(client, trade_key, "execution_unknown")
    assert error_code(response) == "VALIDATION_SANDBOX_SCENARIO"
    assert not Order.objects.exists() and untouched(alice, funded)


@pytest.mark.parametrize(
    "side, tif, status",
    [
        ("buy", "GTC", "partially_filled"),
        ("sell", "GTC", "partially_filled"),
        ("buy", "IOC", "cancelled"),
    ],
)
def test_partial_fill_fills_exactly_half_against_the_house(
    client, funded, alice, trade_key, matcher, assert_ledger, side, tif, status
):
    body = {**BUY, "side": side, "time_in_force": tif, "client_order_id": "half"}
    response = place(client, trade_key, "partial_fill", body)
    assert response.status_code == 202, response.content  # no matcher ran yet
    matcher()
    order = signed(client, trade_key, "GET", "/v1/orders/client:half").json()
    assert (order["status"], order["filled_size"], order["size"]) == (
        status,
        "0.00500000",
        "0.01000000",
    )
    house = Order.objects.exclude(user=alice).get()
    assert house.user.username == HOUSE_USERNAME and house.status == "filled"
    (trade,) = Trade.objects.all()
    assert trade.price == order_price_ticks(funded)
    funding = LedgerEntry.objects.filter(
        user=house.user, reason=LedgerReason.FAUCET
    ).get()
    assert funding.ref.startswith("scenario:partial_fill:")
    assert_ledger()


def order_price_ticks(pair):
    return 60_000 * USD // pair.tick_size


@pytest.mark.parametrize(
    "resting, detail, shown",
    [
        ({"side": "sell", "price": "59000.00"}, "best_ask", "59000.000000"),
        ({"side": "sell", "price": "60000.00"}, "best_ask", "60000.000000"),
        ({"side": "buy", "price": "60000.00"}, "best_bid", "60000.000000"),
    ],
)
def test_partial_fill_refuses_a_price_not_strictly_inside_the_spread(
    client,
    funded,
    alice,
    bob,
    trade_key,
    matcher,
    assert_ledger,
    resting,
    detail,
    shown,
):
    bob_key = ApiKeyFactory(user=bob, scope="trade")
    place(client, bob_key, None, {**BUY, **resting})
    matcher()
    response = place(client, trade_key, "partial_fill")
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_SANDBOX_SCENARIO"
    assert error["details"][detail] == shown
    assert not Order.objects.filter(user=alice).exists()
    assert not LedgerEntry.objects.filter(user__username=HOUSE_USERNAME).exists()
    assert_ledger()


@pytest.mark.parametrize(
    "change",
    [
        {"type": "market", "price": None},
        {"post_only": True},
        {"time_in_force": "FOK"},
        {"size": "0.0001"},  # half of one lot is no order
    ],
)
def test_partial_fill_refuses_orders_it_cannot_split(
    client, funded, alice, trade_key, change
):
    body = {k: v for k, v in {**BUY, **change}.items() if v is not None}
    response = place(client, trade_key, "partial_fill", body)
    assert error_code(response) == "VALIDATION_SANDBOX_SCENARIO", response.content
    assert not Order.objects.exists() and untouched(alice, funded)


# ------------------------------------------------------------------ production


@pytest.mark.parametrize("name", [*SCENARIOS, "explode"])
def test_in_production_the_header_is_ignored(
    production, client, funded, alice, name, assert_ledger
):
    key = ApiKeyFactory(user=alice, scope="trade")
    response = place(client, key, name, {**BUY, "client_order_id": "p-1"})
    assert response.status_code == 202, response.content  # placed, as without
    assert Order.objects.filter(user=alice).count() == 1
    assert not LedgerEntry.objects.filter(user__username=HOUSE_USERNAME).exists()
    assert_ledger()


def test_in_production_the_scenario_code_refuses_to_run(production, funded):
    req = OrderRequest(side="buy", type="limit", price=1, size=2)
    with pytest.raises(RuntimeError):
        order_scenarios.before_place(scenario="partial_fill", pair=funded, req=req)
    with pytest.raises(RuntimeError):
        order_scenarios.house_counter_order(pair=funded, req=req)
