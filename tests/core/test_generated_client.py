"""The OpenAPI document generates a working client: openapi-python-client
builds one from /v1/openapi.json, and it talks to a live server, public calls
and a signed order (the signing headers added by an httpx event hook)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from exchange.client.signing import signed_headers
from tests.apikeys.factories import ApiKeyFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def generated(client, tmp_path, monkeypatch):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(client.get("/v1/openapi.json").json()))
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "hkt_generated"),
        ],
        capture_output=True,
        text=True,
        # ruff (formatting the generated code) is found on PATH.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda name: importlib.import_module(f"hkt_generated.{name}")
    for name in [m for m in sys.modules if m.startswith("hkt_generated")]:
        del sys.modules[name]


def _sign_with(key):
    def sign(request: httpx.Request) -> None:
        target = request.url.raw_path.decode()
        request.headers.update(
            signed_headers(
                secret=key.secret,
                key=key.key,
                method=request.method,
                path=target,
                body=request.content,
            )
        )

    return sign


def _limit_buy(client_order_id: str) -> dict[str, str]:
    """The body of a small limit buy, answered at once (``ack``)."""
    return {
        "pair": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "price": "63000.00",
        "size": "0.0100",
        "client_order_id": client_order_id,
        "response_type": "ack",
    }


def test_the_generated_client_works_against_a_live_server(
    generated, live_server, funded, alice, settings
):
    api = generated("client")
    public = api.Client(base_url=live_server.url)
    markets = generated("api.markets.market_list").sync(client=public)
    btc_usd = next(m for m in markets.markets if m.symbol == "BTC-USD")
    assert (btc_usd.tick_size, btc_usd.lot_size) == ("0.010000", "0.00010000")
    assert generated("api.public.time_get").sync(client=public).server_time > 0

    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1", "::1"])
    private = api.Client(
        base_url=live_server.url,
        httpx_args={"event_hooks": {"request": [_sign_with(key)]}},
    )
    models = generated("models")
    body = models.OrderPlaceInput.from_dict(_limit_buy("gen-1"))
    placed = generated("api.orders.order_place").sync_detailed(
        client=private, body=body
    )
    assert placed.status_code == 202, placed.content
    assert (placed.parsed.status, placed.parsed.held) == ("pending", "631.260000")

    balances = generated("api.account.account_balances").sync(client=private)
    usd = next(b for b in balances.spot if b.asset == "USD")
    assert usd.held == "631.260000"

    refused = generated("api.orders.order_place").sync_detailed(
        client=private,
        body=models.OrderPlaceInput.from_dict({**body.to_dict(), "price": "63000.001"}),
    )
    assert refused.status_code == 400
    assert refused.parsed.error.code == "ORDER_PRICE_OFF_TICK"

    # Amend (no matcher runs here: queued, so 202, the increase held at once).
    settings.ORDER_RESULT_TIMEOUT_MS = 50
    order_amend = generated("api.orders.order_amend")
    amended = order_amend.sync_detailed(
        order_id=placed.parsed.id,
        client=private,
        body=models.OrderAmendInput.from_dict({"size": "0.0200"}),
    )
    assert amended.status_code == 202, amended.content
    assert amended.parsed.id == placed.parsed.id
    balances = generated("api.account.account_balances").sync(client=private)
    assert next(b for b in balances.spot if b.asset == "USD").held == "1262.520000"
    again = order_amend.sync_detailed(
        order_id=placed.parsed.id,
        client=private,
        body=models.OrderAmendInput.from_dict({"price": "62000.001"}),
    )
    assert again.status_code == 400
    assert again.parsed.error.code == "ORDER_PRICE_OFF_TICK"


def test_the_generated_client_places_and_cancels_a_batch(
    generated, live_server, funded, alice, settings
):
    settings.ORDER_RESULT_TIMEOUT_MS = 30  # no matcher: answered pending
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1", "::1"])
    private = generated("client").Client(
        base_url=live_server.url,
        httpx_args={"event_hooks": {"request": [_sign_with(key)]}},
    )
    models = generated("models")
    bid = {"pair": "BTC-USD", "side": "buy", "type": "limit", "size": "0.0100"}
    body = models.OrderBatchPlaceInput.from_dict(
        {
            "orders": [
                {**bid, "price": "62000.00", "client_order_id": "gen-b1"},
                {**bid, "price": "62000.001"},
            ]
        }
    )
    placed = generated("api.orders.order_place_batch").sync_detailed(
        client=private, body=body
    )
    assert placed.status_code == 200, placed.content
    ok, refused = placed.parsed.results
    assert (ok.status, ok.order.status, ok.order.held) == (202, "pending", "621.240000")
    assert (refused.status, refused.error.code) == (400, "ORDER_PRICE_OFF_TICK")

    cancel = models.OrderBatchCancelInput.from_dict({"client_order_ids": ["gen-b1"]})
    cancelled = generated("api.orders.order_cancel_batch").sync_detailed(
        client=private, body=cancel
    )
    assert cancelled.status_code == 200, cancelled.content
    (only,) = cancelled.parsed.results
    assert (only.status, only.cancel_result, only.order.id) == (
        202,
        "pending",
        ok.order.id,
    )


def test_the_generated_client_cancels_by_client_order_id(
    generated, live_server, funded, alice, settings
):
    # The generated client percent-encodes path parameters: the cancel goes out
    # as /v1/orders/client%3Agen-c1/cancel, signed as sent (docs/signing.md).
    settings.ORDER_RESULT_TIMEOUT_MS = 30  # no matcher: answered pending
    key = ApiKeyFactory(user=alice, scope="trade", ip_allowlist=["127.0.0.1", "::1"])
    sent: list[str] = []
    private = generated("client").Client(
        base_url=live_server.url,
        httpx_args={
            "event_hooks": {
                "request": [
                    lambda request: sent.append(request.url.raw_path.decode()),
                    _sign_with(key),
                ]
            }
        },
    )
    body = generated("models").OrderPlaceInput.from_dict(_limit_buy("gen-c1"))
    placed = generated("api.orders.order_place").sync_detailed(
        client=private, body=body
    )
    assert placed.status_code == 202, placed.content

    cancelled = generated("api.orders.order_cancel").sync_detailed(
        order_id="client:gen-c1", client=private
    )
    assert sent[-1] == "/v1/orders/client%3Agen-c1/cancel"
    assert cancelled.status_code == 202, cancelled.content
    assert (cancelled.parsed.cancel_result, cancelled.parsed.order.id) == (
        "pending",
        placed.parsed.id,
    )
    fetched = generated("api.orders.order_get").sync_detailed(
        order_id="client:gen-c1", client=private
    )
    assert sent[-1] == "/v1/orders/client%3Agen-c1"
    assert fetched.status_code == 200, fetched.content
    assert fetched.parsed.id == placed.parsed.id
