"""OpenAPI for the signed API: the four signing headers as security schemes, and
each operation's rate-limit weight and required scope as extensions.

Set ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "apps.core.api.schema.ExchangeAutoSchema"``.
Importing this module also registers ``ApiKeyAuthenticationScheme``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from exchange.client import signing

SECURITY_SCHEMES: dict[str, tuple[str, str]] = {
    "ApiKey": (signing.HEADER_KEY, "The API key id (public, starts with hkt_)."),
    "ApiTimestamp": (
        signing.HEADER_TIMESTAMP,
        "Unix time in integer milliseconds, within the key's drift tolerance "
        "(default 5,000 ms) of server time.",
    ),
    "ApiNonce": (
        signing.HEADER_NONCE,
        "8-64 characters of [A-Za-z0-9_-], random, used once per key.",
    ),
    "ApiSignature": (
        signing.HEADER_SIGNATURE,
        "Lowercase hex HMAC-SHA256(secret, prehash); see docs/signing.md.",
    ),
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The four headers that together authenticate a signed request (AND)."""

    target_class = "apps.apikeys.auth.ApiKeyAuthentication"
    name = list(SECURITY_SCHEMES)

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": header, "description": text}
            for header, text in SECURITY_SCHEMES.values()
        ]


class ExchangeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus, on every operation of a
        ``PublicAPIView``/``SignedAPIView``: ``x-rate-limit-weight`` (the view's
        ``rate_weight``), ``x-rate-limit-weight-description`` when the weight depends
        on parameters, and ``x-required-scope`` (from ``get_required_scope()``, so
    per method) for signed endpoints."""

    def get_extensions(self) -> dict[str, Any]:
        extensions = dict(super().get_extensions())
        weight = getattr(self.view, "rate_weight", None)
        if isinstance(weight, int):
            extensions["x-rate-limit-weight"] = weight
        description = getattr(self.view, "rate_weight_description", "")
        if description:
            extensions["x-rate-limit-weight-description"] = description
        scope = getattr(self.view, "required_scope", "")
        get_scope = getattr(self.view, "get_required_scope", None)
        if scope and callable(get_scope):
            scope = get_scope()  # per method: the mock request has this operation's
        if scope:
            extensions["x-required-scope"] = scope
        return extensions
