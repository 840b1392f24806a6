"""The API key's part of the OpenAPI spec: the four signing headers of
``apps.core.api.schema.SECURITY_SCHEMES`` as the security of every operation
that ``ApiKeyAuthentication`` guards. Registered by ``ApikeysConfig.ready``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from apps.core.api.schema import SECURITY_SCHEMES


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The four headers that together authenticate a signed request (AND)."""

    target_class = "apps.apikeys.auth.ApiKeyAuthentication"
    name = list(SECURITY_SCHEMES)

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        return [
            {"type": "apiKey", "in": "header", "name": header, "description": text}
            for header, text in SECURITY_SCHEMES.values()
        ]
