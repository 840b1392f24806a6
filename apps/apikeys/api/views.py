from __future__ import annotations

from datetime import UTC, datetime

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys import auth
from apps.apikeys.api.base import PublicAPIView, SignedAPIView
from apps.apikeys.api.serializers import (
    ApiKeyOutputSerializer,
    ServerTimeOutputSerializer,
)
from apps.core.api.formats import iso_utc


class ServerTimeView(PublicAPIView):
    """Server time in Unix ms, for clock sync before signing."""

    rate_weight = 1
    error_codes = ()

    @extend_schema(
        operation_id="time_get", tags=["public"], responses=ServerTimeOutputSerializer
    )
    def get(self, request: Request) -> Response:
        now = auth.now_ms()
        moment = datetime.fromtimestamp(now // 1000, tz=UTC).replace(
            microsecond=(now % 1000) * 1000
        )
        iso = iso_utc(moment, "milliseconds")
        return Response(
            ServerTimeOutputSerializer({"server_time": now, "iso": iso}).data
        )


class AccountApiKeyView(SignedAPIView):
    """The calling key: scope, IP allow-list, drift tolerance, weight budget."""

    required_scope = "read"
    rate_weight = 1
    error_codes = ()

    @extend_schema(
        operation_id="account_api_key_get",
        tags=["account"],
        responses=ApiKeyOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(ApiKeyOutputSerializer(request.api_key).data)
