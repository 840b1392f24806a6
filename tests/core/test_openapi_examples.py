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
