from __future__ import annotations

from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import selectors


class HealthView(APIView):
    @extend_schema(
        operation_id="health", tags=["public"], responses={200: dict, 503: dict}
    )
    def get(self, request: Request) -> Response:
        checks = {
            "database": selectors.database_ok(),
            "channel_layer": async_to_sync(selectors.channel_layer_ok)(),
        }
        ok = all(checks.values())
        return Response(
            {"status": "ok" if ok else "degraded", "checks": checks},
            status=200 if ok else 503,
            headers={} if ok else {"Retry-After": "5"},
        )
