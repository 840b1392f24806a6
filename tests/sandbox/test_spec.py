"""The OpenAPI document shows the sandbox's additions only in the sandbox."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def scenario_header(op):
    return next(
        (p for p in op.get("parameters", []) if p["name"] == "X-Sandbox-Scenario"),
        None,
    )


def test_the_sandbox_spec_has_the_faucet_and_the_scenario_header(client):
    spec = client.get("/v1/openapi.json").json()
    faucet = spec["paths"]["/v1/sandbox/faucet"]["post"]
    assert faucet["x-required-scope"] == "trade"
    assert "RATE_LIMIT_FAUCET_DAILY" in faucet["responses"]["429"]["description"]
    place = spec["paths"]["/v1/orders"]["post"]
    assert scenario_header(place)["schema"]["enum"] == [
        "rate_limited",
        "overloaded",
        "execution_unknown",
        "partial_fill",
        "reject_insufficient_funds",
    ]
    assert "SYSTEM_EXECUTION_UNKNOWN" in place["responses"]["504"]["description"]
    listing = spec["paths"]["/v1/orders"]["get"]
    assert scenario_header(listing)["schema"]["enum"] == ["rate_limited", "overloaded"]
    assert scenario_header(spec["paths"]["/v1/time"]["get"]) is None  # public


def test_the_production_spec_has_neither(client, production):
    spec = client.get("/v1/openapi.json").json()
    assert not [p for p in spec["paths"] if "sandbox" in p]
    for item in spec["paths"].values():
        for op in item.values():
            assert scenario_header(op) is None
            assert "VALIDATION_SANDBOX_SCENARIO" not in str(op.get("responses"))
