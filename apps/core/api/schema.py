"""OpenAPI for the signed API: the four signing headers as security schemes, and
each operation's rate-limit weight and required scope as extensions.

Set ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "apps.core.api.schema.ExchangeAutoSchema"``.
The authentication extension that turns ``SECURITY_SCHEMES`` into the spec's
security schemes is ``apps.apikeys.api.schema.ApiKeyAuthenticationScheme``.
"""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from apps.core import scenarios
from apps.core.api.serializers import StrictInputSerializer
from apps.core.errors import ERRORS, ErrorCode
from exchange.client import signing

SECURITY_SCHEMES: dict[str, tuple[str, str]] = {
    "ApiKey": (
        signing.HEADER_KEY,
        "The API key id (public): hkt_test_ + 32 hex in the sandbox, hkt_live_ + "
        "32 hex in production; a key of the other environment is refused with "
        "AUTH_KEY_WRONG_ENVIRONMENT.",
    ),
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
        "Lowercase hex HMAC-SHA256(secret, prehash); the prehash (docs/signing.md) "
        "starts with v2 and the signing domain, hkt-sandbox or hkt-production, so "
        "a signature made for one environment is invalid in the other.",
    ),
}


def answer_example(name: str, summary: str, value: dict) -> list[OpenApiExample]:
    """``extend_schema(examples=...)`` for one documented success answer."""
    return [OpenApiExample(name, summary=summary, value=value, response_only=True)]


# The security scheme an operation lists when a request to it may be signed.
SIGNATURE_SCHEME = "ApiSignature"


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

    # ---------------------------------------------------------------- errors
    def get_description(self) -> str:  # type: ignore[override]
        """The operation's own docstring (method, else its view class), never
        a base class's."""
        method = getattr(self.view, getattr(self, "method", "get").lower(), None)
        own = getattr(method, "__doc__", None) or type(self.view).__dict__.get(
            "__doc__"
        )
        return inspect.cleandoc(own) if own else ""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Adds the operation's error responses (the shared error body, the
        codes it can answer per status, an example) to what it declares."""
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        responses = operation.setdefault("responses", {})
        ref = self.resolve_serializer(ErrorBodySerializer, "response").ref
        # A request that may be signed (auth=[{}, {...}] on an optionally signed
        # view) goes through every signing check, so it answers their errors too.
        signed = any(SIGNATURE_SCHEME in req for req in operation.get("security", []))
        errors = error_codes_for(
            self.view, self.method, signed=signed, body=self._takes_strict_body()
        )
        self._add_sandbox_scenario_header(operation)
        for status, codes in sorted(errors.items()):
            responses.setdefault(
                str(status),
                {
                    "description": "Error codes: " + ", ".join(f"`{c}`" for c in codes),
                    "content": {
                        "application/json": {
                            "schema": ref,
                            "examples": {
                                code: {"value": _example(code)} for code in codes
                            },
                        }
                    },
                },
            )
        self._add_response_headers(responses)
        return operation

    def _takes_strict_body(self) -> bool:
        """The operation's request body is a StrictInputSerializer's."""
        if self.method.upper() not in ("POST", "PUT", "PATCH"):
            return False  # no body (and no serializer to guess)
        body = self.get_request_serializer()
        kind = body if isinstance(body, type) else type(body)
        return issubclass(kind, StrictInputSerializer)

    def _add_response_headers(self, responses: dict[str, Any]) -> None:
        """Every response declares the headers every /v1 answer carries (as
        components/headers); 429 and 503 also Retry-After."""
        refs = {name: self._header_ref(name) for name in RESPONSE_HEADERS}
        for status, response in responses.items():
            headers = response.setdefault("headers", {})
            for name, ref in refs.items():
                if name != "Retry-After" or status in RETRY_AFTER_STATUSES:
                    headers.setdefault(name, ref)

    def _header_ref(self, name: str) -> dict[str, str]:
        kind, description = RESPONSE_HEADERS[name]
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.HEADER,
            object=name,
            schema={"schema": {"type": kind}, "description": description},
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _add_sandbox_scenario_header(self, operation: dict[str, Any]) -> None:
        """Sandbox: signed operations take X-Sandbox-Scenario (apps.core.scenarios)."""
        get_own = getattr(self.view, "get_sandbox_scenarios", None)
        if not (scenarios.scenarios_enabled() and callable(get_own)):
            return
        names = [*scenarios.GENERIC_SCENARIOS, *get_own()]
        operation.setdefault("parameters", []).append(
            {
                "in": "header",
                "name": scenarios.HEADER,
                "required": False,
                "schema": {"type": "string", "enum": names},
                "description": "Sandbox only (ignored in production): answer as "
                "the named fault would; see docs/sandbox.md, Fault injection.",
            }
        )


# The headers of every /v1 response (apps.core.middleware, the rate-limit
# headers of apps.apikeys), and Retry-After on the statuses that carry it.
RESPONSE_HEADERS: dict[str, tuple[str, str]] = {
    "X-Request-Id": (
        "string",
        "This request's id (yours when you sent a well-formed X-Request-Id); "
        "also error.request_id. Quote it to support.",
    ),
    "X-Server-Time": ("integer", "Server time, Unix ms, for clock-offset tracking."),
    "X-RateLimit-Limit": ("integer", "The budget's weight per minute."),
    "X-RateLimit-Remaining": ("integer", "Weight left in this window."),
    "X-RateLimit-Reset": ("integer", "Unix time (seconds) when the window ends."),
    "X-RateLimit-Cost": ("integer", "This request's weight."),
    "Retry-After": ("integer", "Seconds to wait before retrying."),
}
RETRY_AFTER_STATUSES = frozenset({"429", "503"})

COMMON_ERRORS = (
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.VALIDATION_BODY_TOO_LARGE,
    ErrorCode.METHOD_NOT_ALLOWED,
    ErrorCode.RATE_LIMIT_EXCEEDED,
    ErrorCode.SYSTEM_INTERNAL_ERROR,
    ErrorCode.SYSTEM_UNAVAILABLE,
)
SIGNED_ERRORS = tuple(
    c for c in ErrorCode if c.value.startswith(("AUTH_", "PERMISSION_"))
)
# What a StrictInputSerializer body (apps.core.api.serializers) and its
# parser (apps.core.api.parsers) refuse.
BODY_ERRORS = (
    ErrorCode.VALIDATION_MALFORMED_JSON,
    ErrorCode.VALIDATION_DUPLICATE_KEY,
    ErrorCode.VALIDATION_UNKNOWN_FIELD,
    ErrorCode.VALIDATION_INVALID_TYPE,
)
# What every weighted endpoint (apps.apikeys.api.base) refuses in the query
# string (apps.core.api.query), whether or not it takes parameters.
QUERY_ERRORS = (
    ErrorCode.VALIDATION_DUPLICATE_PARAM,
    ErrorCode.VALIDATION_UNKNOWN_PARAM,
)
SANDBOX_SIGNED_ERRORS = (
    ErrorCode.VALIDATION_SANDBOX_SCENARIO,
    ErrorCode.SYSTEM_OVERLOADED,
)


def error_codes_for(
    view: Any, method: str, *, signed: bool = False, body: bool = False
) -> dict[int, list[str]]:
    """The codes an operation can answer, grouped by HTTP status: the common
    ones, the signing ones for a view that requires a scope (a
    ``SignedAPIView``, whose ``as_view`` refuses an empty one) or when
    ``signed`` (an operation whose security lists the signature, e.g.
    optionally signed), the body's when ``body`` (a StrictInputSerializer
    request body), the query string's for a weighted view (one with a
    ``rate_weight``), and the view's ``error_codes``."""
    codes: list[ErrorCode] = list(COMMON_ERRORS)
    if isinstance(getattr(view, "rate_weight", None), int):
        codes += QUERY_ERRORS
    if body:
        codes += BODY_ERRORS
    if signed or getattr(view, "required_scope", ""):
        codes += SIGNED_ERRORS
    if getattr(view, "required_scope", "") and scenarios.scenarios_enabled():
        codes += SANDBOX_SIGNED_ERRORS  # X-Sandbox-Scenario's answers
    extra = getattr(view, "error_codes", ())
    if isinstance(extra, dict):
        extra = extra.get(method.upper(), ())
    codes += list(extra)
    grouped: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        grouped.setdefault(ERRORS[code].status, []).append(code.value)
    return grouped


def _example(code: str) -> dict[str, Any]:
    spec = ERRORS[ErrorCode(code)]
    return {
        "error": {
            "code": code,
            "message": spec.description,
            "request_id": "9f1c2e7a4b3d4c5e",
            "retryable": spec.retryable,
            "details": {},
        }
    }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[c.value for c in ErrorCode], help_text="Stable; see docs/errors.md."
    )
    message = serializers.CharField()
    request_id = serializers.CharField(help_text="Also in the X-Request-Id header.")
    retryable = serializers.BooleanField()
    details = serializers.DictField(help_text="Facts of the case, per code.")


class ErrorBodySerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
