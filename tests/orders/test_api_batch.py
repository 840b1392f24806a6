"""POST /v1/orders/batch and /v1/orders/cancel-batch: each entry on its own,
answered in its slot as the single call answers, in request order; one
rate-limit charge per batch; money held exactly as single calls hold it."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import LedgerEntry
from apps.accounts.services import balance_deposit
from apps.orders import services
from apps.orders.api.batch import BATCH_CANCEL_WEIGHT, BATCH_PLACE_WEIGHT
from apps.orders.models import Order, OrderCommand
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import error_code, signed
from tests.factories import AssetFactory, PairFactory
from tests.helpers import BTC, LIMIT_BUY, USD, bal, matcher_running, place
from tests.orders.helpers import post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]

BATCH = "/v1/orders/batch"
CANCEL_BATCH = "/v1/orders/cancel-batch"
BID_HOLD = 631_260_000  # 0.01 BTC at 63,000 with the worst-case 0.2% fee


def bid(price: str = "63000", **extra) -> dict:
    return {**LIMIT_BUY, "price": price, **extra}


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def eth_usd(funded, alice):
    eth = AssetFactory(code="ETH", name="Ether", scale=8)
    pair = PairFactory(symbol="ETH-USD", base=eth, quote=funded.quote)
    balance_deposit(user=alice, asset=eth, amount=5 * BTC)
    return pair


def test_batch_places_each_order_in_request_order_across_pairs(
    client, funded, eth_usd, alice, key, assert_ledger
):
    ask = {
        "pair": "ETH-USD",
        "side": "sell",
        "type": "limit",
        "price": "3000",
        "size": "1.5",
        "client_order_id": "eth-ask",
    }
    slots = results(
        post(
            client,
            key,
            {"orders": [bid("62000", client_order_id="b1"), ask, bid("61000")]},
            BATCH,
        )
    )
    assert [(r["status"], r["order"]["pair"], r["order"]["price"]) for r in slots] == [
        (202, "BTC-USD", "62000.000000"),
        (202, "ETH-USD", "3000.000000"),
        (202, "BTC-USD", "61000.000000"),
    ]
    assert [r["order"]["client_order_id"] for r in slots] == ["b1", "eth-ask", None]
    assert all("error" not in r for r in slots)
    # Each slot is what GET /v1/orders/{id} answers for that order.
    for slot in slots:
        one = signed(client, key, "GET", f"/v1/orders/{slot['order']['id']}").json()
        assert one == slot["order"]
    held_usd = sum(int(o.hold_amount) for o in Order.objects.filter(side="buy"))
    assert bal(alice, funded.quote) == (1_000_000 * USD - held_usd, held_usd)
    assert bal(alice, eth_usd.base) == (5 * BTC - 150_000_000, 150_000_000)
    assert OrderCommand.objects.count() == 3
    assert_ledger()


def test_a_bad_order_fails_alone_with_the_error_a_single_call_answers(
    client, funded, alice, key, assert_ledger
):
    bad = [
        bid(price="63000.005"),  # off the tick
        bid(pair="DOGE-USD"),  # no such pair
        bid(size="100"),  # 6.3M USD: more than alice has
        bid(price=None),  # a limit order without a price
        bid(price=63000),  # a JSON number for an amount
        "not an order",
    ]
    entries = [bid("60000"), *bad, bid("60001")]
    slots = results(post(client, key, {"orders": entries}, BATCH))
    assert [r["status"] for r in slots] == [202, 400, 404, 400, 400, 400, 400, 202]
    for entry, slot in zip(bad, slots[1:-1], strict=True):
        single = post(client, key, entry)
        assert slot["status"] == single.status_code
        expected = single.json()["error"]
        assert {**slot["error"], "request_id": ""} == {**expected, "request_id": ""}
        assert slot["error"]["request_id"]
        assert "order" not in slot
    assert [error_code_of(s) for s in slots[1:-1]] == [
        "ORDER_PRICE_OFF_TICK",
        "MARKET_NOT_FOUND",
        "ACCOUNT_INSUFFICIENT_FUNDS",
        "ORDER_INVALID_PARAMETERS",
        "VALIDATION_INVALID_DECIMAL",
        "VALIDATION_INVALID_TYPE",
    ]
    # Only the two good orders hold anything.
    assert Order.objects.count() == 2
    held = sum(o.hold_amount for o in Order.objects.all())
    assert bal(alice, funded.quote) == (1_000_000 * USD - held, held)
    assert_ledger()


def error_code_of(slot: dict) -> str:
    return slot["error"]["code"]


def test_a_replayed_batch_returns_the_same_orders_and_holds_nothing_more(
    client, funded, alice, key, assert_ledger
):
    body = {
        "orders": [
            bid("62000", client_order_id="r1"),
            bid("62001", client_order_id="r2"),
        ]
    }
    first = results(post(client, key, body, BATCH))
    again = results(post(client, key, body, BATCH))
    assert [r["status"] for r in again] == [200, 200]
    assert [r["order"]["id"] for r in again] == [r["order"]["id"] for r in first]
    assert Order.objects.count() == 2
    assert LedgerEntry.objects.filter(reason="hold").count() == 2
    # A single call with one of the ids replays the batch's order too.
    single = post(client, key, bid("62001", client_order_id="r2"))
    assert single.status_code == 200
    assert single.json()["id"] == first[1]["order"]["id"]
    # The same id with other parameters is the single call's conflict.
    conflict = results(
        post(client, key, {"orders": [bid("62002", client_order_id="r1")]}, BATCH)
    )
    assert (conflict[0]["status"], error_code_of(conflict[0])) == (
        409,
        "ORDER_CLIENT_ID_CONFLICT",
    )
    assert_ledger()


def test_a_client_order_id_repeated_within_a_batch_is_refused_in_its_slot(
    client, funded, alice, key, assert_ledger
):
    body = {
        "orders": [
            bid("62000", client_order_id="dup"),
            bid("62000", client_order_id="dup"),
            bid("62500", client_order_id="dup"),
        ]
    }
    slots = results(post(client, key, body, BATCH))
    assert [r["status"] for r in slots] == [202, 400, 400]
    assert [error_code_of(s) for s in slots[1:]] == [
        "ORDER_BATCH_DUPLICATE_CLIENT_ID",
        "ORDER_BATCH_DUPLICATE_CLIENT_ID",
    ]
    assert slots[1]["error"]["details"] == {"client_order_id": "dup", "first_index": 0}
    assert Order.objects.filter(client_order_id="dup").count() == 1
    assert bal(alice, funded.quote)[1] == Order.objects.get().hold_amount
    assert_ledger()


def test_a_batch_is_charged_once_with_its_documented_weight(client, funded, key):
    first = post(
        client, key, {"orders": [bid(str(60000 + i)) for i in range(20)]}, BATCH
    )
    assert first.status_code == 200
    assert first["X-RateLimit-Cost"] == str(BATCH_PLACE_WEIGHT) == "10"
    second = post(client, key, {"orders": [bid("59000")]}, BATCH)
    spent = int(first["X-RateLimit-Remaining"]) - int(second["X-RateLimit-Remaining"])
    assert spent == BATCH_PLACE_WEIGHT
    ids = [r["order"]["id"] for r in first.json()["results"]]
    cancel = post(client, key, {"order_ids": ids}, CANCEL_BATCH)
    assert cancel["X-RateLimit-Cost"] == str(BATCH_CANCEL_WEIGHT) == "5"
    assert (
        int(second["X-RateLimit-Remaining"]) - int(cancel["X-RateLimit-Remaining"])
        == BATCH_CANCEL_WEIGHT
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"orders": []}, "VALIDATION_BATCH_SIZE"),
        ({"orders": [LIMIT_BUY] * 21}, "VALIDATION_BATCH_SIZE"),
        ({"orders": LIMIT_BUY}, "VALIDATION_ERROR"),
        ({}, "VALIDATION_ERROR"),
        ([LIMIT_BUY], "VALIDATION_INVALID_TYPE"),  # not an object
    ],
)
def test_an_empty_oversized_or_malformed_batch_is_a_400_placing_nothing(
    client, funded, alice, key, body, code
):
    response = post(client, key, body, BATCH)
    assert (response.status_code, error_code(response)) == (400, code)
    if code == "VALIDATION_BATCH_SIZE":
        details = response.json()["error"]["details"]
        assert details == {"min": 1, "max": 20, "count": len(body["orders"])}
    assert Order.objects.count() == 0
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)


def test_a_read_key_cannot_batch(client, funded, alice):
    reader = ApiKeyFactory(user=alice, scope="read")
    for path, body in ((BATCH, {"orders": [LIMIT_BUY]}), (CANCEL_BATCH, {})):
        response = post(client, reader, body, path)
        assert (response.status_code, error_code(response)) == (
            403,
            "PERMISSION_SCOPE_MISSING",
        )


def test_an_unexpected_failure_of_one_entry_still_answers_the_others(
    client, funded, alice, key, monkeypatch, assert_ledger
):
    real = services.order_place

    def flaky(**kwargs):
        if kwargs["req"].price == 6_200_000:  # the second order: 62,000.00
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(services, "order_place", flaky)
    slots = results(
        post(client, key, {"orders": [bid("61000"), bid("62000"), bid("63000")]}, BATCH)
    )
    assert [r["status"] for r in slots] == [202, 500, 202]
    assert error_code_of(slots[1]) == "SYSTEM_INTERNAL_ERROR"
    assert Order.objects.count() == 2
    assert_ledger()


def test_a_batch_commits_its_orders_in_one_transaction_on_postgresql(
    client, funded, alice, key, assert_ledger
):
    """One commit for the batch (PostgreSQL): every row it wrote carries the
    same inserting transaction id, the refused order's slot included."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite places each order in its own transaction")
    entries = [bid("60000"), bid(size="100"), bid("60001"), bid("60002")]
    slots = results(post(client, key, {"orders": entries}, BATCH))
    assert [r["status"] for r in slots] == [202, 400, 202, 202]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT xmin::text FROM orders_order UNION "
            "SELECT DISTINCT xmin::text FROM orders_ordercommand"
        )
        assert len(cursor.fetchall()) == 1
    assert Order.objects.count() == 3
    assert_ledger()


def test_a_client_order_id_racing_another_request_is_replayed_in_its_slot(
    client, funded, alice, key, monkeypatch, assert_ledger
):
    """The racing request committed the id between this batch's look-up and
    its insert: on PostgreSQL that breaks the batch's one transaction, which
    rolls back whole and places again one by one. Each slot answers as a
    single call would, and no order or hold exists twice."""
    first = post(client, key, bid("62000", client_order_id="race"))
    assert first.status_code == 202
    real, missed = services._replay, []

    def late_look_up(user_id, pair, req):  # the racer's row not seen yet, once
        if req.client_order_id == "race" and not missed:
            missed.append(req)
            return None
        return real(user_id, pair, req)

    monkeypatch.setattr(services, "_replay", late_look_up)
    entries = [bid("61000"), bid("62000", client_order_id="race"), bid("61001")]
    slots = results(post(client, key, {"orders": entries}, BATCH))
    assert missed
    assert [r["status"] for r in slots] == [202, 200, 202]
    assert slots[1]["order"]["id"] == first.json()["id"]
    assert Order.objects.count() == 3
    assert LedgerEntry.objects.filter(reason="hold").count() == 3
    held = sum(o.hold_amount for o in Order.objects.all())
    assert bal(alice, funded.quote) == (1_000_000 * USD - held, held)
    assert_ledger()


def test_a_batch_wakes_the_matcher_once_per_pair(
    client,
    funded,
    eth_usd,
    key,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from apps.orders import bus

    woken: list[int] = []
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # never reached: _push_wake is ours
    monkeypatch.setattr(bus, "_push_wake", woken.append)
    ask = {"pair": "ETH-USD", "side": "sell", "type": "limit", "price": "3000"}
    entries = [bid("60000"), {**ask, "size": "1"}, bid("60001"), {**ask, "size": "2"}]
    with django_capture_on_commit_callbacks(execute=True):
        slots = results(post(client, key, {"orders": entries}, BATCH))
    assert [r["status"] for r in slots] == [202] * 4
    assert sorted(woken) == sorted([funded.pk, eth_usd.pk])


def test_cancel_batch_by_ids_and_client_ids_answers_each_in_order(
    client, funded, alice, bob, key, matcher, assert_ledger
):
    placed = results(
        post(
            client,
            key,
            {
                "orders": [
                    bid("60000", client_order_id="c0"),
                    bid("60001"),
                    bid("63000"),
                ]
            },
            BATCH,
        )
    )
    place(bob, funded, side="sell", price="63000", size="0.01")  # fills the third
    matcher()
    ids = [r["order"]["id"] for r in placed]
    body = {
        "order_ids": [ids[1], ids[2], "744bf154-b20d-40e1-8445-61fa84354e42"],
        "client_order_ids": ["c0", "nobody"],
    }
    pending = results(post(client, key, body, CANCEL_BATCH))
    assert [(r["status"], r.get("cancel_result")) for r in pending] == [
        (202, "pending"),
        (200, "already_filled"),
        (404, None),
        (202, "pending"),
        (404, None),
    ]
    assert [error_code_of(pending[i]) for i in (2, 4)] == ["ORDER_NOT_FOUND"] * 2
    assert pending[0]["order"]["id"] == ids[1]
    assert pending[3]["order"]["id"] == ids[0]
    matcher()
    done = results(post(client, key, body, CANCEL_BATCH))
    assert [(r["status"], r.get("cancel_result")) for r in done] == [
        (200, "already_cancelled"),
        (200, "already_filled"),
        (404, None),
        (200, "already_cancelled"),
        (404, None),
    ]
    assert done[0]["order"]["reason"] == "user_cancelled"
    # Each slot is the single cancel's body.
    single = signed(client, key, "POST", f"/v1/orders/{ids[1]}/cancel")
    assert {k: v for k, v in done[0].items() if k != "status"} == single.json()
    assert bal(alice, funded.quote)[1] == 0
    assert_ledger()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "VALIDATION_BATCH_SIZE"),
        ({"order_ids": [], "client_order_ids": []}, "VALIDATION_BATCH_SIZE"),
        (
            {"order_ids": ["x"] * 11, "client_order_ids": ["y"] * 10},
            "VALIDATION_BATCH_SIZE",
        ),
        ({"order_ids": "x"}, "VALIDATION_ERROR"),
        ({"order_ids": [7]}, "VALIDATION_ERROR"),
    ],
)
def test_cancel_batch_refuses_an_empty_oversized_or_malformed_body(
    client, funded, key, body, code
):
    response = post(client, key, body, CANCEL_BATCH)
    assert (response.status_code, error_code(response)) == (400, code)


def test_cancel_batch_never_touches_another_users_order(client, funded, bob, key):
    theirs = place(bob, funded, side="buy", price="60000", size="0.01")
    slots = results(post(client, key, {"order_ids": [str(theirs.uuid)]}, CANCEL_BATCH))
    assert (slots[0]["status"], error_code_of(slots[0])) == (404, "ORDER_NOT_FOUND")
    assert not OrderCommand.objects.filter(kind="cancel").exists()


@pytest.mark.django_db(transaction=True)
def test_batch_waits_once_for_the_matchers_outcome_of_all_its_orders(
    funded, alice, bob, matcher, settings, assert_ledger
):
    """The real path: the matcher runs meanwhile (a thread), so every slot
    carries the order's state after matching, not pending."""
    settings.ORDER_RESULT_TIMEOUT_MS = 20_000
    key = ApiKeyFactory(user=alice, scope="trade")
    place(bob, funded, side="sell", price="63000", size="0.004")
    place(bob, funded, side="sell", price="63500", size="0.01")
    matcher()
    with matcher_running(matcher):
        placed = post(
            Client(),
            key,
            {
                "orders": [
                    bid("63000", response_type="full"),  # takes bob's 0.004
                    bid("62000", client_order_id="rests"),
                    bid("63500", post_only=True),  # would take: rejected
                    {**bid("62500"), "response_type": "ack"},
                ]
            },
            BATCH,
        )
        slots = results(placed)
        cancelled = results(
            post(Client(), key, {"client_order_ids": ["rests"]}, CANCEL_BATCH)
        )
    orders = [s["order"] for s in slots]
    assert [(s["status"], o["status"]) for s, o in zip(slots, orders, strict=True)] == [
        (201, "partially_filled"),
        (201, "open"),
        (201, "rejected"),
        (202, "pending"),
    ]
    assert [f["size"] for f in orders[0]["fills"]] == ["0.00400000"]
    assert "fills" not in orders[1]
    assert (cancelled[0]["status"], cancelled[0]["cancel_result"]) == (
        200,
        "cancelled",
    )
    assert cancelled[0]["order"]["status"] == "cancelled"
    assert bal(alice, funded.base)[0] == 10 * BTC + 400_000
    assert_ledger()


def _shape(value):
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__ if value is not None else "null"


def _examples(client, path: str) -> tuple[dict, dict]:
    op = client.get("/v1/openapi.json").json()["paths"][path]["post"]
    (request,) = op["requestBody"]["content"]["application/json"]["examples"].values()
    (answer,) = op["responses"]["200"]["content"]["application/json"][
        "examples"
    ].values()
    return request["value"], answer["value"]


def test_the_batch_examples_are_what_the_api_takes_and_answers(
    client, funded, key, matcher
):
    request, documented = _examples(client, BATCH)
    real = results(post(client, key, request, BATCH))
    matcher()
    real[0]["order"] = signed(
        client, key, "GET", f"/v1/orders/{real[0]['order']['id']}"
    ).json()
    real[0]["status"] = 201  # as if the matcher had answered within the wait
    slots = documented["results"]
    assert [_shape(r) for r in real] == [_shape(r) for r in slots]
    assert real[0]["order"]["held"] == slots[0]["order"]["held"]
    assert {**real[1]["error"], "request_id": ""} == {
        **slots[1]["error"],
        "request_id": "",
    }
    cancel_request, cancel_documented = _examples(client, CANCEL_BATCH)
    assert set(cancel_request) == {"order_ids", "client_order_ids"}
    cancel_request = {**cancel_request, "order_ids": [real[0]["order"]["id"]]}
    post(client, key, cancel_request, CANCEL_BATCH)
    matcher()
    cancelled = results(post(client, key, cancel_request, CANCEL_BATCH))
    cancelled[0]["cancel_result"] = "cancelled"  # the first call's answer
    assert [_shape(r) for r in cancelled] == [
        _shape(r) for r in cancel_documented["results"]
    ]
    assert cancelled[1]["error"]["details"] == {"order_id": "client:mm-ask-1"}
