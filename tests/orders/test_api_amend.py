"""POST /v1/orders/{order_id}/amend: priority kept by a size cut at the same
price and lost by a new price or a larger size, holds exact to the minor
unit, every refusal its own code (the matcher's side, amends racing fills:
tests/matching/test_amend_processor.py)."""

from __future__ import annotations

import pytest

from apps.accounts.services import balance_deposit
from apps.orders import bus, cancels
from apps.orders.models import CommandKind, OrderCommand, Trade
from tests.factories import UserFactory
from tests.helpers import BTC, USD, bal, place
from tests.orders.helpers import post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]


@pytest.fixture
def inline(monkeypatch, matcher):
    """The API's wait for the matcher runs the in-process matcher first, so a
    request gets the matcher's answer as with a matcher process running."""
    wait_for = bus.wait_for

    def drive(order_id, is_done, timeout_s):
        matcher()
        return wait_for(order_id, is_done, 0)

    monkeypatch.setattr(bus, "wait_for", drive)
    return matcher


@pytest.fixture
def carol(funded):
    user = UserFactory(username="carol")
    balance_deposit(user=user, asset=funded.base, amount=10 * BTC)
    balance_deposit(user=user, asset=funded.quote, amount=1_000_000 * USD)
    return user


def amend(client, key, order, **body):
    ref = order if isinstance(order, str) else str(order.uuid)
    return post(client, key, body, path=f"/v1/orders/{ref}/amend")


def maker_of_next_fill(carol, funded, matcher, *, side="buy", size="0.004"):
    taker = place(carol, funded, side=side, price="63000", size=size)
    matcher()
    return Trade.objects.get(taker_order=taker).maker_order_id


def test_size_cut_at_same_price_keeps_time_priority(
    client, funded, alice, bob, carol, key, inline, assert_ledger
):
    first = place(alice, funded, side="sell", price="63000", size="0.01")
    place(bob, funded, side="sell", price="63000", size="0.01")
    inline()
    response = amend(client, key, first, size="0.0040")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["size"], body["remaining_size"], body["status"]) == (
        str(first.uuid),
        "0.00400000",
        "0.00400000",
        "open",
    )
    assert body["held"] == "0.00400000"
    assert bal(alice, funded.base) == (10 * BTC - 400_000, 400_000)
    # A later taker fills the amended order before bob's later one.
    assert maker_of_next_fill(carol, funded, inline) == first.pk
    assert_ledger()


def test_price_change_loses_time_priority(
    client, funded, alice, bob, carol, key, inline, assert_ledger
):
    first = place(alice, funded, side="sell", price="63100", size="0.004")
    second = place(bob, funded, side="sell", price="63000", size="0.004")
    inline()
    response = amend(client, key, first, price="63000")
    assert response.status_code == 200, response.content
    assert response.json()["price"] == "63000.000000"
    # Now at bob's price but behind him: bob's order fills first.
    assert maker_of_next_fill(carol, funded, inline) == second.pk
    assert maker_of_next_fill(carol, funded, inline) == first.pk
    assert_ledger()


def test_size_increase_loses_time_priority_and_holds_the_increase_first(
    client, funded, alice, bob, carol, key, inline, assert_ledger
):
    first = place(alice, funded, side="sell", price="63000", size="0.004")
    second = place(bob, funded, side="sell", price="63000", size="0.004")
    inline()
    response = amend(client, key, first, size="0.0050")
    assert response.status_code == 200, response.content
    assert response.json()["held"] == "0.00500000"
    assert bal(alice, funded.base) == (10 * BTC - 500_000, 500_000)
    assert maker_of_next_fill(carol, funded, inline) == second.pk
    assert_ledger()


def test_buy_holds_are_exact_to_the_minor_unit_up_and_down(
    client, funded, alice, key, inline, assert_ledger
):
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    inline()
    assert bal(alice, funded.quote)[1] == 631_260_000  # 630 + 20 bps
    up = amend(client, key, order, size="0.02")
    assert up.status_code == 200, up.content
    assert up.json()["held"] == "1262.520000"
    assert bal(alice, funded.quote) == (
        1_000_000 * USD - 1_262_520_000,
        1_262_520_000,
    )
    down = amend(client, key, order, price="62000.01", size="0.0050")
    assert down.status_code == 200, down.content
    # 0.005 x 62,000.01 = 310.00005, + ceil(20 bps) = 0.620001: 310.620051
    assert down.json()["held"] == "310.620051"
    assert bal(alice, funded.quote)[1] == 310_620_051
    assert_ledger()


def test_partly_filled_buy_amend_keeps_its_fills_and_holds_exactly_the_rest(
    client, funded, alice, bob, key, inline, assert_ledger
):
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    place(bob, funded, side="sell", price="63000", size="0.004")
    inline()
    response = amend(client, key, order, price="62500", size="0.008")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["filled_size"], body["remaining_size"], body["status"]) == (
        "0.00400000",
        "0.00400000",
        "partially_filled",
    )
    # Spent 252 + maker fee 0.252; the rest (0.004 x 62,500 = 250) needs
    # 250 + ceil(252 x 10 bps + 250 x 20 bps) - 0.252 = 250.5 more.
    assert body["held"] == "502.752000"
    assert bal(alice, funded.quote)[1] == 250_500_000
    assert_ledger()


def test_new_price_that_crosses_trades_at_once_and_answers_the_filled_order(
    client, funded, alice, bob, key, inline, assert_ledger
):
    place(bob, funded, side="sell", price="63000", size="0.01")
    order = place(alice, funded, side="buy", price="62000", size="0.01")
    inline()
    response = amend(client, key, order, price="63500")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["filled_size"], body["average_price"]) == (
        "filled",
        "0.01000000",
        "63000.000000",
    )
    assert bal(alice, funded.quote) == (1_000_000 * USD - 631_260_000, 0)
    assert_ledger()


def test_amend_by_client_order_id(client, funded, alice, key, inline):
    place(alice, funded, side="sell", price="63000", size="0.01", client_order_id="a1")
    inline()
    response = amend(client, key, "client:a1", size="0.005")
    assert response.status_code == 200, response.content
    assert response.json()["client_order_id"] == "a1"


def test_unanswered_amend_is_202_and_applies_later(
    client, funded, alice, key, matcher, assert_ledger
):
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    matcher()
    response = amend(client, key, order, size="0.02")
    assert response.status_code == 202, response.content
    assert response.json()["size"] == "0.01000000"  # not applied yet
    assert_ledger()  # the increase is held, owned by the queued command
    # One amend at a time: the next one's hold depends on this one's.
    again = amend(client, key, order, size="0.03")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ORDER_AMEND_PENDING"
    assert again.json()["error"]["retryable"] is True
    matcher()
    order.refresh_from_db()
    assert (order.size, order.hold_amount) == (200, 1_262_520_000)
    assert_ledger()


def test_a_requeued_amend_survives_a_rebuild(client, funded, alice, bob, key, inline):
    place(bob, funded, side="buy", price="62000", size="0.01")
    first = place(alice, funded, side="sell", price="63000", size="0.01")
    place(alice, funded, side="sell", price="63100", size="0.01")
    inline()
    assert amend(client, key, first, price="63100").status_code == 200
    assert amend(client, key, first, size="0.003").status_code == 200
    before = inline.book.engine.state_hash()
    inline.book.rebuild()
    assert inline.book.engine.state_hash() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "VALIDATION_ERROR"),
        ({"price": "63000.001"}, "ORDER_PRICE_OFF_TICK"),
        ({"size": "0.00015"}, "ORDER_SIZE_OFF_LOT"),
        ({"size": 0.02}, "VALIDATION_INVALID_DECIMAL"),
        ({"size": "0.01"}, "ORDER_AMEND_NO_CHANGE"),
        ({"price": "63000", "size": "0.01"}, "ORDER_AMEND_NO_CHANGE"),
        ({"size": "20"}, "ACCOUNT_INSUFFICIENT_FUNDS"),
        ({"price": "1", "size": "0.0001"}, "ORDER_NOTIONAL_TOO_SMALL"),
    ],
)
def test_bad_amends_are_refused_with_their_code_and_hold_nothing(
    client, funded, alice, key, inline, body, code, assert_ledger
):
    order = place(alice, funded, side="sell", price="63000", size="0.01")
    inline()
    before = bal(alice, funded.base)
    response = amend(client, key, order, **body)
    assert response.status_code in (400, 409), response.content
    assert response.json()["error"]["code"] == code
    assert bal(alice, funded.base) == before
    assert not OrderCommand.objects.filter(kind=CommandKind.AMEND).exists()
    assert_ledger()


def test_unknown_and_foreign_orders_are_not_found(client, funded, bob, key, inline):
    foreign = place(bob, funded, side="sell", price="63000", size="0.01")
    inline()
    for ref in (str(foreign.uuid), "client:nope", "not-a-uuid"):
        response = amend(client, key, ref, size="0.005")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ORDER_NOT_FOUND"


def test_filled_cancelled_and_market_orders_are_refused(
    client, funded, alice, bob, key, inline
):
    filled = place(alice, funded, side="sell", price="63000", size="0.01")
    place(bob, funded, side="buy", price="63000", size="0.01")
    cancelled = place(alice, funded, side="sell", price="64000", size="0.01")
    inline()
    cancels.order_cancel(order=cancelled)
    market = place(alice, funded, side="sell", type="market", size="0.001")
    stop = place(
        alice, funded, side="sell", type="stop_limit", stop_price="60000",
        price="59000", size="0.01",
    )  # fmt: skip
    inline()
    for order, code in (
        (filled, "ORDER_ALREADY_FILLED"),
        (cancelled, "ORDER_ALREADY_CANCELLED"),
        (market, "ORDER_NOT_AMENDABLE"),
        (stop, "ORDER_NOT_AMENDABLE"),
    ):
        response = amend(client, key, order, price="63500")
        assert response.status_code == 409, (code, response.content)
        assert response.json()["error"]["code"] == code


def test_size_below_filled_is_refused(client, funded, alice, bob, key, inline):
    order = place(alice, funded, side="sell", price="63000", size="0.01")
    place(bob, funded, side="buy", price="63000", size="0.006")
    inline()
    response = amend(client, key, order, size="0.006")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ORDER_AMEND_SIZE_BELOW_FILLED"
    assert response.json()["error"]["details"]["filled_size"] == "0.00600000"


def test_post_only_amend_that_would_take_is_refused_by_the_matcher(
    client, funded, alice, bob, key, inline, assert_ledger
):
    place(bob, funded, side="sell", price="63000", size="0.01")
    order = place(alice, funded, side="buy", price="62000", size="0.01", post_only=True)
    inline()
    response = amend(client, key, order, price="63000")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "ORDER_POST_ONLY_WOULD_TAKE"
    order.refresh_from_db()
    assert (order.price, order.status) == (6_200_000, "open")
    assert bal(alice, funded.quote)[1] == order.hold_amount  # the add came back
    assert_ledger()


def test_the_spec_documents_amend_with_its_codes_and_example(client):
    spec = client.get("/v1/openapi.json").json()
    op = spec["paths"]["/v1/orders/{order_id}/amend"]["post"]
    assert (op["operationId"], op["x-required-scope"]) == ("order_amend", "trade")
    assert set(op["responses"]) >= {"200", "202", "400", "404", "409"}
    conflicts = op["responses"]["409"]["description"]
    for code in (
        "ORDER_ALREADY_FILLED",
        "ORDER_ALREADY_CANCELLED",
        "ORDER_AMEND_SIZE_BELOW_FILLED",
        "ORDER_AMEND_PENDING",
        "ORDER_POST_ONLY_WOULD_TAKE",
    ):
        assert code in conflicts
    examples = op["requestBody"]["content"]["application/json"]["examples"]
    assert examples["NewPriceAndSize"]["value"] == {
        "price": "62900.00",
        "size": "0.0080",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [("cancel_only", "MARKET_CANCEL_ONLY"), ("halted", "MARKET_HALTED")],
)
def test_a_pair_that_takes_no_orders_refuses_amends(
    client, funded, alice, key, inline, status, code
):
    order = place(alice, funded, side="sell", price="63000", size="0.01")
    inline()
    funded.status = status
    funded.save(update_fields=["status"])
    response = amend(client, key, order, size="0.005")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == code
    assert not OrderCommand.objects.filter(kind=CommandKind.AMEND).exists()
