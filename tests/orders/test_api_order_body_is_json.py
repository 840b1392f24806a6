"""POST /v1/orders takes a JSON body only: any other content type is refused
and places nothing."""

from __future__ import annotations

import json

import pytest

from apps.orders.models import Order, OrderCommand
from tests.apikeys.helpers import error_code, sign_headers
from tests.helpers import LIMIT_BUY, USD, bal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]


def post_raw(client, key, body: bytes, content_type: str):
    headers = sign_headers(key, "POST", "/v1/orders", body)
    return client.generic(
        "POST",
        "/v1/orders",
        data=body,
        content_type=content_type,
        headers=headers,
        REMOTE_ADDR="127.0.0.1",
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps(LIMIT_BUY).encode(), "text/plain"),
        (json.dumps(LIMIT_BUY).encode(), "text/plain; charset=utf-8"),
        (
            b"pair=BTC-USD&side=buy&type=limit&price=63000&size=0.01",
            "application/x-www-form-urlencoded",
        ),
    ],
    ids=["text", "text-utf8", "form"],
)
def test_a_body_that_is_not_json_is_refused_and_places_nothing(
    client, funded, alice, key, body, content_type
):
    response = post_raw(client, key, body, content_type)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert "application/json" in response.json()["error"]["message"]
    assert Order.objects.count() == 0 and OrderCommand.objects.count() == 0
    assert bal(alice, funded.quote) == (1_000_000 * USD, 0)


def test_the_same_body_as_json_is_accepted(client, funded, key):
    """The refusal above is for the content type, not the body or signature."""
    response = post_raw(client, key, json.dumps(LIMIT_BUY).encode(), "application/json")
    assert response.status_code == 202, response.content
