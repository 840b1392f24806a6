from __future__ import annotations

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from tests.apikeys import urls as test_urls


@pytest.fixture
def schema(settings, capsys):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.ExchangeAutoSchema",
    }
    patterns = [
        path("v1/", include("apps.apikeys.api.urls")),
        *[p for p in test_urls.urlpatterns if str(p.pattern).startswith("v1/test/")],
    ]
    GENERATOR_STATS.reset()
    generated = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    err = capsys.readouterr().err
    assert "Warning" not in err and "Error" not in err, err
    return generated


def test_signing_headers_are_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert {name: (s["in"], s["name"]) for name, s in schemes.items()} == {
        "ApiKey": ("header", "X-Api-Key"),
        "ApiTimestamp": ("header", "X-Api-Timestamp"),
        "ApiNonce": ("header", "X-Api-Nonce"),
        "ApiSignature": ("header", "X-Api-Signature"),
    }


def test_signed_operation_requires_all_four_headers_and_states_scope_and_weight(schema):
    operation = schema["paths"]["/v1/account/api-key"]["get"]
    assert operation["security"] == [
        {"ApiKey": [], "ApiTimestamp": [], "ApiNonce": [], "ApiSignature": []}
    ]
    assert operation["x-rate-limit-weight"] == 1
    assert operation["x-required-scope"] == "read"
    trade = schema["paths"]["/v1/test/trade"]["get"]
    assert (trade["x-rate-limit-weight"], trade["x-required-scope"]) == (5, "trade")


def test_public_operation_has_a_weight_and_no_security(schema):
    operation = schema["paths"]["/v1/time"]["get"]
    assert operation["x-rate-limit-weight"] == 1
    assert "x-required-scope" not in operation
    assert operation.get("security") in (None, [], [{}])


def test_parameter_dependent_weight_is_described(schema):
    operation = schema["paths"]["/v1/test/depth"]["get"]
    assert operation["x-rate-limit-weight-description"].startswith("1 up to depth 100")


def test_required_scope_is_per_method_when_it_depends_on_the_method(schema):
    operations = schema["paths"]["/v1/test/read-or-trade"]
    assert operations["get"]["x-required-scope"] == "read"
    assert operations["post"]["x-required-scope"] == "trade"
