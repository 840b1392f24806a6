"""One exception handler renders every API error in the shape of DESIGN.md."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response

from apps.core.errors import ERRORS, DomainError, ErrorCode

log = logging.getLogger(__name__)


def error_body(
    code: ErrorCode,
    message: str,
    request_id: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": code.value,
            "message": message,
            "request_id": request_id,
            "retryable": ERRORS[code].retryable,
            "details": details or {},
        }
    }


def _from_drf(exc: drf.APIException) -> DomainError:
    if isinstance(exc, drf.ParseError):
        return DomainError(code=ErrorCode.VALIDATION_MALFORMED_JSON)
    if isinstance(exc, drf.ValidationError):
        return DomainError(
            "Invalid request parameters.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"fields": exc.detail},
        )
    if isinstance(exc, drf.NotFound):
        return DomainError(code=ErrorCode.NOT_FOUND)
    if isinstance(exc, drf.MethodNotAllowed):
        return DomainError(code=ErrorCode.METHOD_NOT_ALLOWED)
    if isinstance(exc, drf.UnsupportedMediaType):
        return DomainError(
            "Send the body as application/json.", code=ErrorCode.VALIDATION_ERROR
        )
    return DomainError(str(exc.detail), code=ErrorCode.VALIDATION_ERROR)


def domain_error_of(exc: Exception) -> DomainError:
    """``exc`` as the DomainError the API answers (an unexpected one logged
    and answered SYSTEM_INTERNAL_ERROR). Also for one entry of a batch."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, Http404):
        return DomainError(code=ErrorCode.NOT_FOUND)
    if isinstance(exc, drf.APIException):
        return _from_drf(exc)
    log.exception("unhandled error in API view", exc_info=exc)
    return DomainError(code=ErrorCode.SYSTEM_INTERNAL_ERROR)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    request_id = getattr(request, "request_id", "") if request is not None else ""
    exc = domain_error_of(exc)
    body = error_body(exc.code, exc.message, request_id, exc.details)
    headers = dict(exc.headers or {})
    if exc.status == 503:
        # Overloaded, or a dependency briefly unavailable (cache, rate
        # limiter): say when to come back.
        headers.setdefault("Retry-After", "1")
    return Response(body, status=exc.status, headers=headers)


def json_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the error shape under /v1, Django's page elsewhere."""
    if not request.path.startswith("/v1/"):
        return defaults.page_not_found(request, exception or Http404())
    body = error_body(
        ErrorCode.NOT_FOUND, "No such endpoint.", getattr(request, "request_id", "")
    )
    return JsonResponse(body, status=404)


def json_500(request: HttpRequest) -> HttpResponse:
    """handler500: the error shape under /v1, Django's page elsewhere."""
    if not request.path.startswith("/v1/"):
        return defaults.server_error(request)
    body = error_body(
        ErrorCode.SYSTEM_INTERNAL_ERROR,
        ERRORS[ErrorCode.SYSTEM_INTERNAL_ERROR].description,
        getattr(request, "request_id", ""),
    )
    return JsonResponse(body, status=500)
