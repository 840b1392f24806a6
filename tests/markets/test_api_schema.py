"""The OpenAPI schema of the market and account endpoints generates cleanly."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


@pytest.fixture
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache, (
        dict(GENERATOR_STATS._warn_cache),
        dict(GENERATOR_STATS._error_cache),
    )
    return generated


def test_schema_generates_without_warnings_and_validates(schema):
    validate_schema(schema)
    assert {
        "/v1/markets",
        "/v1/ticker/{pair}",
        "/v1/orderbook/{pair}",
        "/v1/trades/{pair}",
        "/v1/candles/{pair}",
        "/v1/account/balances",
        "/v1/account/transfers",
        "/v1/withdrawals",
        "/v1/withdrawals/{withdrawal_id}",
    } <= set(schema["paths"])


@pytest.mark.parametrize(
    ("path", "method", "weight", "scope"),
    [
        ("/v1/markets", "get", 1, None),
        ("/v1/ticker/{pair}", "get", 1, None),
        ("/v1/orderbook/{pair}", "get", 1, None),
        ("/v1/trades/{pair}", "get", 1, None),
        ("/v1/candles/{pair}", "get", 2, None),
        ("/v1/account/balances", "get", 5, "read"),
        ("/v1/account/transfers", "post", 1, "trade"),
        ("/v1/withdrawals", "post", 10, "withdraw"),
        ("/v1/withdrawals/{withdrawal_id}", "get", 1, "read"),
    ],
)
def test_schema_states_weight_and_scope(schema, path, method, weight, scope):
    operation = schema["paths"][path][method]
    assert operation["x-rate-limit-weight"] == weight
    assert operation.get("x-required-scope") == scope


def test_schema_documents_variable_weights_and_optional_signature(schema):
    book = schema["paths"]["/v1/orderbook/{pair}"]["get"]
    assert "10 for <= 1000" in book["x-rate-limit-weight-description"]
    assert {} in book["security"] and any("ApiSignature" in s for s in book["security"])
    trades = schema["paths"]["/v1/trades/{pair}"]["get"]
    assert trades["x-rate-limit-weight-description"] == "1 for limit <= 100, 5 above."
    candles = schema["paths"]["/v1/candles/{pair}"]["get"]
    assert candles["x-rate-limit-weight-description"] == (
        "1 for limit <= 100, 2 for <= 500 (the default), 5 above."
    )
    assert "previous close" in candles["description"]
    params = {p["name"]: p for p in candles["parameters"]}
    assert set(params) == {"pair", "interval", "start", "end", "limit"}
    assert params["interval"]["schema"]["enum"] == ["1m", "5m", "15m", "1h", "4h", "1d"]
    assert params["interval"]["schema"]["default"] == "1m"
    assert "security" not in schema["paths"]["/v1/markets"]["get"] or schema["paths"][
        "/v1/markets"
    ]["get"]["security"] == [{}]
