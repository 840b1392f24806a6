"""A stand-in POST /v1/orders for the client tests: idempotent on
client_order_id, and slow or failing on demand."""

from __future__ import annotations

import threading
import time

from django.urls import include, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.base import SignedAPIView

ATTEMPTS: list[dict[str, str]] = []
ORDERS: dict[str, int] = {}
# What the next attempts do, in order: "sleep" (longer than the client's
# timeout), "fail" (503) or anything else (answer).
SCRIPT: list[str] = []
SLEEP_S = 1
_lock = threading.Lock()
# Set when no request of the fake is in flight (tests wait for a slow one to end
# before the database goes away under it).
IDLE = threading.Event()
IDLE.set()


def reset() -> None:
    ATTEMPTS.clear()
    ORDERS.clear()
    SCRIPT.clear()


class FakeOrderPlaceView(SignedAPIView):
    required_scope = "trade"
    rate_weight = 1

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        client_order_id = request.data["client_order_id"]
        with _lock:
            ATTEMPTS.append(
                {
                    "client_order_id": client_order_id,
                    "nonce": request.headers["X-Api-Nonce"],
                }
            )
            action = SCRIPT.pop(0) if SCRIPT else "answer"
            order_id = ORDERS.setdefault(client_order_id, len(ORDERS) + 1)
        if action == "sleep":
            IDLE.clear()
            try:
                time.sleep(SLEEP_S)
            finally:
                IDLE.set()
        if action == "fail":
            return Response(
                {
                    "error": {
                        "code": "SYSTEM_UNAVAILABLE",
                        "message": "try again",
                        "request_id": "",
                        "retryable": True,
                        "details": {},
                    }
                },
                status=503,
            )
        return Response(
            {"id": order_id, "client_order_id": client_order_id, "price": "64000.00"}
        )


urlpatterns = [
    path("v1/orders", FakeOrderPlaceView.as_view()),
    path("", include("exchange.urls")),
]

handler404 = "apps.core.exceptions.json_404"
handler500 = "apps.core.exceptions.json_500"
