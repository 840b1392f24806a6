"""POST/GET /v1/orders, cancels, fills: status codes, error codes, money."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import LedgerEntry
from apps.orders.cancels import cancel_all_after_fire
from apps.orders.models import Order, OrderCommand
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, sign_headers, signed
from tests.helpers import LIMIT_BUY, USD, bal, place, run_concurrently
from tests.orders.helpers import post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]


def test_limit_buy_is_held_and_accepted_as_pending_without_a_matcher(
    client, funded, alice, key
):
    response = post(client, key, {**LIMIT_BUY, "client_order_id": "q-1"})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["price"], body["size"], body["held"]) == (
        "pending",
        "63000.000000",
        "0.01000000",
        "631.260000",
    )
    assert body["client_order_id"] == "q-1" and body["remaining_size"] == "0.01000000"
    assert bal(alice, funded.quote) == (1_000_000 * USD - 631_260_000, 631_260_000)
    assert response["X-RateLimit-Cost"] == "1"


def test_result_reports_the_matchers_outcome(client, funded, alice, bob, key, matcher):
    place(bob, funded, side="sell", price="63000", size="0.01")
    matcher()
    response = post(client, key, {**LIMIT_BUY, "response_type": "ack"})
    assert response.status_code == 202
    matcher()
    order = signed(
        client, key, "GET", f"/v1/orders/{response.json()['id']}?fills=true"
    ).json()
    assert (
        order["status"],
        order["filled_size"],
        order["average_price"],
        order["fee"],
    ) == ("filled", "0.01000000", "63000.000000", "1.260000")
    assert [f["liquidity"] for f in order["fills"]] == ["taker"]


def test_repeated_client_order_id_replays_the_original_without_a_second_hold(
    client, funded, alice, key
):
    first = post(client, key, {**LIMIT_BUY, "client_order_id": "same"})
    again = post(client, key, {**LIMIT_BUY, "client_order_id": "same"})
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    assert LedgerEntry.objects.filter(reason="hold").count() == 1


def test_same_client_order_id_with_other_parameters_is_a_conflict(client, funded, key):
    post(client, key, {**LIMIT_BUY, "client_order_id": "c1"})
    response = post(
        client, key, {**LIMIT_BUY, "price": "63000.01", "client_order_id": "c1"}
    )
    assert response.status_code == 409
    assert error_code(response) == "ORDER_CLIENT_ID_CONFLICT"
    assert response.json()["error"]["details"]["different_fields"] == ["price"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"price": "63000.005"}, 400, "ORDER_PRICE_OFF_TICK"),
        ({"size": "0.00015"}, 400, "ORDER_SIZE_OFF_LOT"),
        ({"size": "0"}, 400, "ORDER_SIZE_TOO_SMALL"),
        ({"price": "0.01", "size": "0.0001"}, 400, "ORDER_NOTIONAL_TOO_SMALL"),
        ({"price": None}, 400, "ORDER_INVALID_PARAMETERS"),
        ({"funds": "10"}, 400, "ORDER_INVALID_PARAMETERS"),
        ({"time_in_force": "IOC", "post_only": True}, 400, "ORDER_INVALID_PARAMETERS"),
        ({"price": 63000}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"price": "6.3e4"}, 400, "VALIDATION_INVALID_DECIMAL"),
        ({"size": "0.000000001"}, 400, "VALIDATION_TOO_MANY_DECIMALS"),
        ({"side": "hold"}, 400, "VALIDATION_ERROR"),
        ({"client_order_id": "has space"}, 400, "VALIDATION_ERROR"),
        ({"pair": "DOGE-USD"}, 404, "MARKET_NOT_FOUND"),
        ({"size": "100"}, 400, "ACCOUNT_INSUFFICIENT_FUNDS"),
    ],
)
def test_bad_orders_get_a_clear_code_and_hold_nothing(
    client, funded, alice, key, change, status, code
):
    response = post(client, key, {**LIMIT_BUY, **change})
    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert Order.objects.count() == 0
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)


def test_market_orders_need_the_right_fields(client, funded, key):
    market = {"pair": "BTC-USD", "side": "sell", "type": "market", "funds": "100"}
    assert error_code(post(client, key, market)) == "ORDER_INVALID_PARAMETERS"
    no_ref = {"pair": "BTC-USD", "side": "buy", "type": "market", "size": "0.01"}
    response = post(client, key, no_ref)
    assert (response.status_code, error_code(response)) == (
        422,
        "ORDER_NO_REFERENCE_PRICE",
    )
    fok = {
        "pair": "BTC-USD",
        "side": "buy",
        "type": "market",
        "funds": "100",
        "time_in_force": "FOK",
    }
    assert error_code(post(client, key, fok)) == "ORDER_INVALID_PARAMETERS"


def test_malformed_json_is_a_400_not_a_500(client, funded, key):
    body = b"{not json"
    response = client.post(
        "/v1/orders",
        data=body,
        content_type="application/json",
        headers=sign_headers(key, "POST", "/v1/orders", body),  # the bytes sent
    )
    assert response.status_code == 400
    assert error_code(response) == "VALIDATION_MALFORMED_JSON"


@pytest.mark.parametrize(
    ("status", "code"),
    [("halted", "MARKET_HALTED"), ("cancel_only", "MARKET_CANCEL_ONLY")],
)
def test_paused_market_refuses_new_orders(client, funded, key, status, code):
    funded.status = status
    funded.save()
    response = post(client, key, LIMIT_BUY)
    assert (response.status_code, error_code(response)) == (409, code)


def test_full_queue_answers_503_overloaded(client, funded, key, settings):
    settings.MATCHER_MAX_QUEUE = 1
    settings.MATCHER_QUEUE_CHECK_MS = 0
    assert post(client, key, LIMIT_BUY).status_code == 202
    response = post(client, key, LIMIT_BUY)
    assert (response.status_code, error_code(response)) == (503, "SYSTEM_OVERLOADED")
    assert response.json()["error"]["retryable"] is True
    assert response["Retry-After"] == "1"


def test_read_key_cannot_trade(client, funded, alice):
    read = ApiKeyFactory(user=alice, scope="read")
    response = post(client, read, LIMIT_BUY)
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_SCOPE_MISSING",
    )
    assert signed(client, read, "GET", "/v1/orders").status_code == 200


def test_get_order_by_id_or_client_id_and_never_anothers(
    client, funded, alice, bob, key
):
    mine = post(client, key, {**LIMIT_BUY, "client_order_id": "x-9"}).json()
    assert (
        signed(client, key, "GET", "/v1/orders/client:x-9").json()["id"] == mine["id"]
    )
    theirs = place(bob, funded, side="buy", price="60000", size="0.01")
    for ref in (str(theirs.uuid), "client:nope", "not-a-uuid"):
        response = signed(client, key, "GET", f"/v1/orders/{ref}")
        assert (response.status_code, error_code(response)) == (404, "ORDER_NOT_FOUND")


def test_list_filters_and_pages(client, funded, alice, key, matcher):
    for i in range(5):
        post(client, key, {**LIMIT_BUY, "price": str(60000 + i)})
    matcher()
    page = signed(
        client, key, "GET", "/v1/orders?limit=2&status=open&pair=BTC-USD"
    ).json()
    assert [o["price"] for o in page["orders"]] == ["60004.000000", "60003.000000"]
    rest = signed(
        client, key, "GET", f"/v1/orders?limit=10&cursor={page['next_cursor']}"
    ).json()
    assert len(rest["orders"]) == 3 and rest["next_cursor"] is None
    bad = signed(client, key, "GET", "/v1/orders?status=sleeping")
    assert (bad.status_code, error_code(bad)) == (400, "VALIDATION_ERROR")


def test_cancel_is_idempotent(client, funded, alice, key, matcher, assert_ledger):
    order = post(client, key, LIMIT_BUY).json()
    matcher()
    pending = signed(client, key, "POST", f"/v1/orders/{order['id']}/cancel")
    assert (pending.status_code, pending.json()["cancel_result"]) == (202, "pending")
    matcher()
    again = signed(client, key, "POST", f"/v1/orders/{order['id']}/cancel")
    assert (again.status_code, again.json()["cancel_result"]) == (
        200,
        "already_cancelled",
    )
    assert again.json()["order"]["status"] == "cancelled"
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)
    assert_ledger()


def test_cancel_of_a_filled_order_says_already_filled(
    client, funded, alice, bob, key, matcher
):
    order = post(client, key, LIMIT_BUY).json()
    place(bob, funded, side="sell", price="63000", size="0.01")
    matcher()
    response = signed(client, key, "POST", f"/v1/orders/{order['id']}/cancel")
    assert (response.status_code, response.json()["cancel_result"]) == (
        200,
        "already_filled",
    )


def test_cancel_all_queues_every_live_order_of_the_pair(
    client, funded, alice, key, matcher
):
    ids = {
        post(client, key, {**LIMIT_BUY, "price": str(60000 + i)}).json()["id"]
        for i in range(3)
    }
    matcher()
    response = signed(client, key, "POST", "/v1/orders/cancel-all", {"pair": "BTC-USD"})
    assert response.status_code == 200 and set(response.json()["requested"]) == ids
    matcher()
    assert set(Order.objects.values_list("status", flat=True)) == {"cancelled"}


def test_cancel_all_after_cancels_the_keys_orders_when_not_refreshed(
    client, funded, alice, key, matcher
):
    from datetime import timedelta

    from django.utils import timezone

    other_key = ApiKeyFactory(user=alice, scope="trade")
    mine = post(client, key, LIMIT_BUY).json()
    post(client, other_key, LIMIT_BUY)
    matcher()
    armed = signed(
        client, key, "POST", "/v1/orders/cancel-all-after", {"timeout_s": 10}
    ).json()
    assert armed["armed"] is True
    assert cancel_all_after_fire() == 0  # not yet due
    assert cancel_all_after_fire(now=timezone.now() + timedelta(seconds=11)) == 1
    matcher()
    statuses = dict(Order.objects.values_list("api_key_id", "status"))
    assert statuses == {key.pk: "cancelled", other_key.pk: "open"}
    body = signed(client, key, "GET", f"/v1/orders/{mine['id']}").json()
    assert (body["status"], body["reason"]) == ("cancelled", "dead_man_switch")
    too_short = signed(
        client, key, "POST", "/v1/orders/cancel-all-after", {"timeout_s": 2}
    )
    assert error_code(too_short) == "VALIDATION_ERROR"
    off = signed(
        client, key, "POST", "/v1/orders/cancel-all-after", {"timeout_s": 0}
    ).json()
    assert off["armed"] is False


def test_fills_show_both_sides_with_their_fees(
    client, funded, alice, bob, key, matcher
):
    post(client, key, {**LIMIT_BUY, "size": "0.02"})
    matcher()
    place(bob, funded, side="sell", price="62000", size="0.02")
    matcher()
    fills = signed(client, key, "GET", "/v1/fills").json()["fills"]
    assert [(f["side"], f["liquidity"], f["price"], f["fee"]) for f in fills] == [
        ("buy", "maker", "63000.000000", "1.260000")
    ]
    bob_key = ApiKeyFactory(user=bob, scope="read")
    bob_fills = signed(client, bob_key, "GET", "/v1/fills?pair=BTC-USD").json()["fills"]
    assert [(f["side"], f["liquidity"], f["fee"]) for f in bob_fills] == [
        ("sell", "taker", "2.520000")
    ]


@pytest.mark.django_db(transaction=True)
def test_two_racing_identical_submissions_make_one_order_and_one_hold(funded, alice):
    key = ApiKeyFactory(user=alice, scope="trade")
    statuses = run_concurrently(
        lambda: post(
            Client(), key, {**LIMIT_BUY, "client_order_id": "race-1"}
        ).status_code,
        threads=2,
    )
    assert sorted(statuses) == [200, 202]
    assert Order.objects.filter(client_order_id="race-1").count() == 1
    assert LedgerEntry.objects.filter(reason="hold").count() == 1
    assert bal(alice, funded.quote)[1] == 631_260_000
    assert OrderCommand.objects.count() == 1
