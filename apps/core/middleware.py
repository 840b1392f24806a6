"""Stamps every response with X-Request-Id and X-Server-Time (the
X-RateLimit-* headers are apps.apikeys.middleware's)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
        return response
