"""The OpenAPI document: generated without warnings, complete, served offline."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from apps.core.errors import WEBSOCKET_ONLY, ErrorCode

pytestmark = pytest.mark.django_db
NOT_OPERATIONS = {"/v1/health"}


@pytest.fixture
def spec(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_schema_generates_and_validates_without_warnings(tmp_path):
    call_command(
        "spectacular",
        "--fail-on-warn",
        "--validate",
        "--file",
        str(tmp_path / "s.yaml"),
    )


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if path not in NOT_OPERATIONS:
                yield path, method, op


def test_every_operation_declares_weight_errors_and_a_description(spec):
    assert spec["openapi"].startswith("3.0")
    for path, method, op in operations(spec):
        where = f"{method.upper()} {path}"
        assert isinstance(op.get("x-rate-limit-weight"), int), where
        assert op.get("description"), where
        assert {"400", "429", "500"} <= set(op["responses"]), where
        signed = any("ApiSignature" in s for s in op.get("security", []))
        if signed and {} not in op.get("security", []):
            assert {"401", "403"} <= set(op["responses"]), where
            assert op["x-required-scope"] in {"read", "trade", "withdraw"}, where


def test_signing_headers_are_security_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {
        "X-Api-Key",
        "X-Api-Timestamp",
        "X-Api-Nonce",
        "X-Api-Signature",
    }


def test_every_error_code_is_in_the_spec(spec):
    assert set(spec["components"]["schemas"]["ErrorCode"]["enum"]) == {
        c.value for c in ErrorCode
    }
    answered = set()
    for _, _, op in operations(spec):
        for response in op["responses"].values():
            answered |= set(re.findall(r"`([A-Z_]+)`", response.get("description", "")))
    # NOT_FOUND answers unknown paths; a withdrawal's NOT_PENDING comes from the
    # admin and the completion task, never from an API operation; some codes
    # only WebSocket frames carry.
    assert {c.value for c in ErrorCode} - answered <= {
        "NOT_FOUND",
        "ACCOUNT_WITHDRAWAL_NOT_PENDING",
    } | {c.value for c in WEBSOCKET_ONLY}


def test_order_placement_documents_scope_and_weight(spec):
    post = spec["paths"]["/v1/orders"]["post"]
    get = spec["paths"]["/v1/orders"]["get"]
    assert (post["x-required-scope"], get["x-required-scope"]) == ("trade", "read")
    assert "ORDER_PRICE_OFF_TICK" in post["responses"]["400"]["description"]
    example = post["responses"]["409"]["content"]["application/json"]["examples"]
    assert (
        example["ORDER_CLIENT_ID_CONFLICT"]["value"]["error"]["code"]
        == "ORDER_CLIENT_ID_CONFLICT"
    )


def test_docs_page_works_offline(client):
    """Every asset from this server: Swagger UI from the sidecar's static
    files, and its start-up script from the docs view itself (the split view:
    no inline script, so the page's CSP can forbid inline scripts)."""
    page = client.get("/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith(("/static/", "/v1/docs?")) for a in assets)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
    script = client.get("/v1/docs?script=")
    assert "SwaggerUIBundle" in script.content.decode()
    assert script["Content-Type"].startswith("application/javascript")


def test_optionally_signed_orderbook_lists_the_signing_errors(spec):
    get = spec["paths"]["/v1/orderbook/{pair}"]["get"]
    assert {} in get["security"]  # public, and may be signed
    responses = get["responses"]
    assert {"401", "403"} <= set(responses)
    unauthorised = responses["401"]["content"]["application/json"]["examples"]
    forbidden = responses["403"]["content"]["application/json"]["examples"]
    assert "AUTH_INVALID_SIGNATURE" in unauthorised
    assert "`AUTH_INVALID_SIGNATURE`" in responses["401"]["description"]
    assert "PERMISSION_IP_NOT_ALLOWED" in forbidden
    assert "`PERMISSION_IP_NOT_ALLOWED`" in responses["403"]["description"]


def test_public_only_operations_list_no_signing_errors(spec):
    responses = spec["paths"]["/v1/markets"]["get"]["responses"]
    assert not {"401", "403"} & set(responses)


def test_order_placement_describes_each_success_status(spec):
    responses = spec["paths"]["/v1/orders"]["post"]["responses"]
    replayed = responses["200"]
    assert replayed["description"].startswith(
        "The original order: this client_order_id was already used for the same order"
    )
    header = replayed["headers"]["Idempotent-Replayed"]
    assert header["schema"] == {"type": "string", "enum": ["true"]}
    assert "processed by the matcher" in responses["201"]["description"]
    pending = responses["202"]["description"]
    assert pending.startswith("Durably accepted, still pending")
    assert "deadline" in pending and "response_type=ack" in pending
    for code in ("201", "202"):
        assert "Idempotent-Replayed" not in responses[code]["headers"], code
        assert "X-Request-Id" in responses[code]["headers"], code
    post = spec["paths"]["/v1/orders"]["post"]
    assert "Idempotent-Replayed" not in {p["name"] for p in post.get("parameters", [])}
    for code in ("200", "201", "202"):
        body = responses[code]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/OrderOutput"}, code
    # The examples survive the descriptions: the 201 body, the request bodies.
    assert "PartlyFilled" in responses["201"]["content"]["application/json"]["examples"]
    requests = post["requestBody"]["content"]
    assert {"LimitBuy", "MarketBuyByFunds", "StopLimitSell"} <= set(
        requests["application/json"]["examples"]
    )


def test_batch_endpoints_document_weight_slots_and_examples(spec):
    place = spec["paths"]["/v1/orders/batch"]["post"]
    cancel = spec["paths"]["/v1/orders/cancel-batch"]["post"]
    assert (place["x-rate-limit-weight"], cancel["x-rate-limit-weight"]) == (10, 5)
    assert place["x-required-scope"] == cancel["x-required-scope"] == "trade"
    assert "VALIDATION_BATCH_SIZE" in place["responses"]["400"]["description"]
    assert "ORDER_BATCH_DUPLICATE_CLIENT_ID" in place["responses"]["200"]["description"]
    schemas = spec["components"]["schemas"]
    slot = schemas["OrderBatchPlaceResult"]["properties"]
    assert set(slot) == {"status", "order", "error"}
    assert slot["error"]["allOf"][0]["$ref"].endswith("/ErrorDetail")
    for op, response in (
        (place, "OnePlacedOneRefused"),
        (cancel, "OneCancelledOneUnknown"),
    ):
        assert op["requestBody"]["content"]["application/json"]["examples"]
        ok = op["responses"]["200"]["content"]["application/json"]
        assert response in ok["examples"]


def test_every_response_declares_the_headers_every_answer_carries(spec):
    """X-Request-Id, X-Server-Time and the X-RateLimit-* set on every
    response; Retry-After on 429 and 503 (components/headers, one each)."""
    common = {
        "X-Request-Id",
        "X-Server-Time",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Cost",
    }
    assert common | {"Retry-After"} <= set(spec["components"]["headers"])
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            where = f"{method.upper()} {path} {status}"
            headers = set(response.get("headers", {}))
            assert common <= headers, where
            assert ("Retry-After" in headers) == (status in {"429", "503"}), where


def test_body_operations_list_the_strict_input_codes(spec):
    """Every operation with a JSON body answers the body's refusals; every
    operation may answer 413 for an oversized body."""
    body_codes = {
        "VALIDATION_MALFORMED_JSON",
        "VALIDATION_DUPLICATE_KEY",
        "VALIDATION_UNKNOWN_FIELD",
        "VALIDATION_INVALID_TYPE",
    }
    for path, method, op in operations(spec):
        where = f"{method.upper()} {path}"
        assert "VALIDATION_BODY_TOO_LARGE" in op["responses"]["413"]["description"]
        listed = set(re.findall(r"`([A-Z_]+)`", op["responses"]["400"]["description"]))
        if "requestBody" in op:
            assert body_codes <= listed, where
        else:
            assert not ({"VALIDATION_UNKNOWN_FIELD"} & listed), where


def test_every_operation_lists_the_query_string_refusals(spec):
    """Every weighted endpoint refuses a query parameter given twice or one it
    does not take (apps.core.api.query), so every operation lists both."""
    query_codes = {"VALIDATION_DUPLICATE_PARAM", "VALIDATION_UNKNOWN_PARAM"}
    for path, method, op in operations(spec):
        listed = set(re.findall(r"`([A-Z_]+)`", op["responses"]["400"]["description"]))
        assert query_codes <= listed, f"{method.upper()} {path}"
