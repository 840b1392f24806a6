"""Stamps every /v1 response with the X-RateLimit-* headers. The API views
set their own (apps.apikeys.api.base); the rest, e.g. an unknown path's 404,
the spec or the health check, show the client IP's budget at cost 0."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.apikeys import ratelimit

log = logging.getLogger(__name__)


class RateLimitHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/v1/") and "X-RateLimit-Limit" not in response:
            _add_ip_budget_headers(request, response)
        return response


def _add_ip_budget_headers(request: HttpRequest, response: HttpResponse) -> None:
    try:
        usage = ratelimit.peek(ratelimit.ip_budget(request), 0)
    except Exception:  # noqa: BLE001 - headers are a courtesy; keep the answer
        log.warning("could not read the rate-limit budget", exc_info=True)
        return
    for name, value in usage.headers().items():
        response[name] = value
