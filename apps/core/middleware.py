"""Stamps every response with X-Request-Id and X-Server-Time, and every /v1
response with the X-RateLimit-* headers (the API views set their own; the
rest, e.g. an unknown path's 404, the spec or the health check, show the
client IP's budget at cost 0)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{8,64}$")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        # A client-chosen id is echoed only when well-formed (no header injection).
        request.request_id = (
            incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        )  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id  # type: ignore[attr-defined]
        response["X-Server-Time"] = str(now_ms())
        if request.path.startswith("/v1/") and "X-RateLimit-Limit" not in response:
            _add_ip_budget_headers(request, response)
        return response


def _add_ip_budget_headers(request: HttpRequest, response: HttpResponse) -> None:
    from apps.apikeys import ratelimit

    try:
        usage = ratelimit.peek(ratelimit.ip_budget(request), 0)
    except Exception:  # noqa: BLE001 - headers are a courtesy; keep the answer
        log.warning("could not read the rate-limit budget", exc_info=True)
        return
    for name, value in usage.headers().items():
        response[name] = value
