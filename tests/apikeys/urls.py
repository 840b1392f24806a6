"""Test-only endpoints (``@pytest.mark.urls("tests.apikeys.urls")``) beside the
real ones."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.base import PublicAPIView, SignedAPIView


class _Echo:
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(
            {
                "key": request.api_key.key if request.api_key else None,
                "user": _user(request),
            }
        )

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        return Response({"key": request.api_key.key, "body": request.data})


def _user(request: Request) -> str | None:
    return request.user.username if request.user is not None else None


class ReadView(_Echo, SignedAPIView):
    required_scope = "read"
    rate_weight = 1
    query_parameters = {"GET": ["depth", "pair"]}  # the signed query's test


class TradeView(_Echo, SignedAPIView):
    required_scope = "trade"
    rate_weight = 5


class WithdrawView(_Echo, SignedAPIView):
    required_scope = "withdraw"
    rate_weight = 1


class ReadOrTradeView(_Echo, SignedAPIView):
    """GET lists (read), POST places (trade): the scope depends on the method."""

    required_scope = "read"
    rate_weight = 1

    def get_required_scope(self) -> str:
        return "trade" if self.request.method == "POST" else "read"


class PublicView(_Echo, PublicAPIView):
    rate_weight = 2


class DepthView(_Echo, PublicAPIView):
    """Weight by order-book depth, as the real order book endpoint does."""

    rate_weight = 1
    rate_weight_description = "1 up to depth 100, 5 up to 500, 10 above."
    query_parameters = {"GET": ["depth"]}

    def get_rate_weight(self, request: Request) -> int:
        depth = request.query_params.get("depth", "")
        if not depth.isdigit():
            return self.rate_weight
        return 1 if int(depth) <= 100 else 5 if int(depth) <= 500 else 10


urlpatterns = [
    path("v1/test/read", ReadView.as_view()),
    path("v1/test/trade", TradeView.as_view()),
    path("v1/test/withdraw", WithdrawView.as_view()),
    path("v1/test/read-or-trade", ReadOrTradeView.as_view()),
    path("v1/test/public", PublicView.as_view()),
    path("v1/test/depth", DepthView.as_view()),
    path("", include("exchange.urls")),
]

handler404 = "apps.core.exceptions.json_404"
handler500 = "apps.core.exceptions.json_500"
