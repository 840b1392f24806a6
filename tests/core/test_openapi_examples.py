"""The OpenAPI document's example bodies are what the API really takes and
answers: each request example is accepted, and the order example is what the
described scenario returns, field for field."""

from __future__ import annotations

import pytest

from apps.orders.api.examples import LIMIT_BUY, PLACED
from tests.apikeys.factories import ApiKeyFactory
from tests.apikeys.helpers import signed
from tests.helpers import place

pytestmark = pytest.mark.django_db
VARYING = {"id", "order_id", "trade_id", "created_at", "updated_at", "time"}


@pytest.fixture
def spec(client):
    return client.get("/v1/openapi.json").json()


def _stable(body: dict) -> dict:
    return {
        k: [_stable(f) for f in v] if k == "fills" else v
        for k, v in body.items()
        if k not in VARYING
    }


def test_every_order_request_example_is_accepted(client, spec, funded, alice):
    key = ApiKeyFactory(user=alice, scope="trade")
    examples = spec["paths"]["/v1/orders"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert len(examples) >= 3
    for name, example in examples.items():
        body = {**example["value"], "response_type": "ack"}
        response = signed(client, key, "POST", "/v1/orders", body)
        assert response.status_code == 202, (name, response.json())


def test_the_order_response_example_is_what_its_scenario_returns(
    client, spec, funded, alice, bob, matcher
):
    documented = spec["paths"]["/v1/orders"]["post"]["responses"]["201"]["content"][
        "application/json"
    ]["examples"]["PartlyFilled"]["value"]
    assert documented == PLACED
    # The scenario: 0.004 BTC rests at 63,000; the example's buy takes it.
    place(bob, funded, side="sell", price="63000", size="0.004")
    matcher()
    key = ApiKeyFactory(user=alice, scope="trade")
    placed = signed(
        client, key, "POST", "/v1/orders", {**LIMIT_BUY, "response_type": "ack"}
    )
    assert placed.status_code == 202
    matcher()
    real = signed(
        client, key, "GET", f"/v1/orders/{placed.json()['id']}?fills=true"
    ).json()
    assert _stable(real) == _stable(documented)
    assert set(real) == set(documented)
    assert set(real["fills"][0]) == set(documented["fills"][0])


def _shape(value):
    """The structure of a JSON value: keys and element shapes, not values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__ if value is not None else "null"


def test_every_documented_answer_has_the_shape_of_the_real_one(
    client, spec, funded, alice, bob, matcher
):
    """The scenario of the examples (apps/markets/api/examples.py): bob's asks
    at 63,000 and 63,010.50, alice's bid at 62,990, then her example buy."""
    key = ApiKeyFactory(user=alice, scope="trade")
    place(bob, funded, side="sell", price="63000", size="0.004")
    place(bob, funded, side="sell", price="63010.5", size="0.25")
    place(alice, funded, side="buy", price="62990", size="0.5")
    matcher()
    signed(client, key, "POST", "/v1/orders", {**LIMIT_BUY, "response_type": "ack"})
    matcher()
    real = {
        "market_list": client.get("/v1/markets"),
        "ticker_get": client.get("/v1/ticker/BTC-USD"),
        "orderbook_get": client.get("/v1/orderbook/BTC-USD?depth=3"),
        "trade_list_public": client.get("/v1/trades/BTC-USD?limit=2"),
        "candle_list": client.get("/v1/candles/BTC-USD?limit=2"),
        "account_balances": signed(client, key, "GET", "/v1/account/balances"),
        "fill_list": signed(client, key, "GET", "/v1/fills?limit=1"),
    }
    documented = {
        op["operationId"]: op["responses"]["200"]["content"]["application/json"]
        for item in spec["paths"].values()
        for op in item.values()
        if op["operationId"] in real
    }
    assert set(documented) == set(real)
    for operation, response in real.items():
        examples = documented[operation].get("examples")
        assert examples, f"{operation} has no example"
        (example,) = examples.values()
        body = response.json()
        assert _shape(example["value"]) == _shape(body), operation
        if operation in ("market_list", "orderbook_get", "account_balances"):
            # Nothing in these depends on the clock: the values match too.
            stable = {k: v for k, v in body.items() if k != "server_time"}
            assert {
                k: v for k, v in example["value"].items() if k != "server_time"
            } == stable, operation
