"""Order endpoints: thin views over apps.orders.services and selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.base import SignedAPIView
from apps.core.api.formats import from_unix_ms, iso_utc
from apps.core.api.pagination import page_by_id
from apps.core.errors import DomainError, ErrorCode
from apps.core.middleware import now_ms
from apps.core.scenarios import ORDER_SCENARIOS
from apps.markets.selectors import pair_get
from apps.orders import cancels, selectors
from apps.orders.api import actions
from apps.orders.api import serializers as s
from apps.orders.api.examples import FILLS, ORDER_PLACE_EXAMPLES

ORDER_ID = OpenApiParameter(
    "order_id", str, "path", description="The order id, or client:<client_order_id>."
)

WITH_FILLS = OpenApiParameter(
    "fills",
    bool,
    description="true: the answer lists the order's fills (as GET /v1/fills). "
    "true or false only.",
)


def _with_fills(request: Request) -> bool:
    """The ``fills`` parameter: exactly true or false (a bot sending fills=1
    learns at once rather than getting an answer without its fills)."""
    value = request.query_params.get("fills", "false")
    if value not in ("true", "false"):
        raise DomainError(
            "fills takes true or false.",
            code=ErrorCode.VALIDATION_INVALID_TYPE,
            details={
                "field": "fills",
                "value": value[:20],
                "allowed": ["true", "false"],
            },
        )
    return value == "true"


IDEMPOTENT_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    enum=["true"],
    required=True,
    response=[200],
    description="true: the body replays the order first placed with this "
    "client_order_id.",
)


class OrderListCreateView(SignedAPIView):
    """POST places an order (limit, market, stop, stop-limit); GET lists your orders, newest first."""

    required_scope = "read"  # POST needs "trade": see get_required_scope
    rate_weight = actions.PLACE_WEIGHT
    error_codes = {
        "POST": (
            ErrorCode.VALIDATION_MALFORMED_JSON,
            ErrorCode.VALIDATION_INVALID_DECIMAL,
            ErrorCode.VALIDATION_TOO_MANY_DECIMALS,
            ErrorCode.VALIDATION_OUT_OF_RANGE,
            ErrorCode.ORDER_PRICE_OFF_TICK,
            ErrorCode.ORDER_SIZE_OFF_LOT,
            ErrorCode.ORDER_SIZE_TOO_SMALL,
            ErrorCode.ORDER_NOTIONAL_TOO_SMALL,
            ErrorCode.ORDER_INVALID_PARAMETERS,
            ErrorCode.ORDER_CLIENT_ID_CONFLICT,
            ErrorCode.ORDER_NO_REFERENCE_PRICE,
            ErrorCode.MARKET_NOT_FOUND,
            ErrorCode.MARKET_HALTED,
            ErrorCode.MARKET_CANCEL_ONLY,
            ErrorCode.ACCOUNT_INSUFFICIENT_FUNDS,
            ErrorCode.SYSTEM_OVERLOADED,
            ErrorCode.SYSTEM_EXECUTION_UNKNOWN,
        ),
        "GET": (ErrorCode.MARKET_NOT_FOUND,),
    }
    query_parameters = {"GET": [s.OrderListQuerySerializer]}

    def get_required_scope(self) -> str:
        return "trade" if self.request.method == "POST" else "read"

    def get_sandbox_scenarios(self) -> tuple[str, ...]:
        return ORDER_SCENARIOS if self.request.method == "POST" else ()

    @extend_schema(
        operation_id="order_place",
        tags=["orders"],
        request=s.OrderPlaceInputSerializer,
        parameters=[IDEMPOTENT_REPLAYED],
        responses={
            200: OpenApiResponse(
                s.OrderOutputSerializer,
                description="The original order: this client_order_id was already "
                "used for the same order. Nothing new was placed or held.",
            ),
            201: OpenApiResponse(
                s.OrderOutputSerializer,
                description="Placed and processed by the matcher: the order as it "
                "stands after matching (with its fills when response_type=full).",
            ),
            202: OpenApiResponse(
                s.OrderOutputSerializer,
                description="Durably accepted, still pending: the matcher had not "
                "answered within the deadline, or response_type=ack. Poll GET "
                "/v1/orders/{order_id} for the outcome.",
            ),
        },
        examples=ORDER_PLACE_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        answer = actions.place(
            api_key=request.api_key,
            data=request.data,
            scenario=request.sandbox_scenario,
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)

    @extend_schema(
        operation_id="order_list",
        tags=["orders"],
        parameters=[s.OrderListQuerySerializer],
        responses=s.OrderListOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        query = s.OrderListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        pair = pair_get(symbol=q["pair"]) if q.get("pair") else None
        orders = selectors.orders_for_user(
            user=request.user,
            pair_id=pair.pk if pair else None,
            status=q.get("status"),
            since=from_unix_ms(q["since"]) if "since" in q else None,
            until=from_unix_ms(q["until"]) if "until" in q else None,
            before_id=q.get("cursor"),
        )
        page, cursor = page_by_id(orders, q["limit"])
        return Response(
            {
                "orders": s.OrderOutputSerializer(page, many=True).data,
                "next_cursor": cursor,
            }
        )


class OrderDetailView(SignedAPIView):
    """One of your orders by id or client:<client_order_id>, with fills when fills=true."""

    required_scope = "read"
    rate_weight = 1
    error_codes = (ErrorCode.ORDER_NOT_FOUND, ErrorCode.VALIDATION_INVALID_TYPE)
    query_parameters = {"GET": [WITH_FILLS]}

    @extend_schema(
        operation_id="order_get",
        tags=["orders"],
        parameters=[ORDER_ID, WITH_FILLS],
        responses=s.OrderOutputSerializer,
    )
    def get(self, request: Request, order_id: str) -> Response:
        with_fills = _with_fills(request)
        order = selectors.order_get_for_user(user=request.user, order_ref=order_id)
        return Response(actions.order_body(order, with_fills=with_fills))


class OrderCancelView(SignedAPIView):
    """Cancel an order; idempotent: a final order answers 200 with cancel_result already_cancelled, already_filled or already_rejected."""

    required_scope = "trade"
    rate_weight = actions.CANCEL_WEIGHT
    error_codes = (
        ErrorCode.ORDER_NOT_FOUND,
        ErrorCode.MARKET_HALTED,
    )

    @extend_schema(
        operation_id="order_cancel",
        tags=["orders"],
        parameters=[ORDER_ID],
        request=None,
        responses={200: s.CancelOutputSerializer, 202: s.CancelOutputSerializer},
    )
    def post(self, request: Request, order_id: str) -> Response:
        answer = actions.cancel(user_id=request.user.pk, order_ref=order_id)
        return Response(answer.body, status=answer.status)


class OrderCancelAllView(SignedAPIView):
    """Cancel all your live orders, optionally of one pair."""

    required_scope = "trade"
    rate_weight = actions.CANCEL_ALL_WEIGHT
    error_codes = (ErrorCode.MARKET_NOT_FOUND,)

    @extend_schema(
        operation_id="order_cancel_all",
        tags=["orders"],
        request=s.CancelAllInputSerializer,
        responses=s.CancelAllOutputSerializer,
    )
    def post(self, request: Request) -> Response:
        answer = actions.cancel_all(user_id=request.user.pk, data=request.data)
        return Response(answer.body, status=answer.status)


class CancelAllAfterView(SignedAPIView):
    """Dead-man switch: unless refreshed within timeout_s seconds, all live orders placed with this key are cancelled; 0 disarms."""

    required_scope = "trade"
    rate_weight = 1
    error_codes = ()

    @extend_schema(
        operation_id="order_cancel_all_after",
        tags=["orders"],
        request=s.CancelAllAfterInputSerializer,
        responses=s.CancelAllAfterOutputSerializer,
    )
    def post(self, request: Request) -> Response:
        data = s.CancelAllAfterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        timer = cancels.cancel_all_after_set(
            api_key=request.api_key, timeout_s=data.validated_data["timeout_s"]
        )
        return Response(
            {
                "armed": timer is not None,
                "deadline": iso_utc(timer.deadline) if timer else None,
                "server_time": now_ms(),
            }
        )


class FillListView(SignedAPIView):
    """Your fills (trades), newest first, with liquidity role and fee."""

    required_scope = "read"
    rate_weight = 5
    error_codes = (
        ErrorCode.MARKET_NOT_FOUND,
        ErrorCode.ORDER_NOT_FOUND,
    )
    query_parameters = {"GET": [s.FillListQuerySerializer]}

    @extend_schema(
        operation_id="fill_list",
        tags=["orders"],
        parameters=[s.FillListQuerySerializer],
        responses=s.FillListOutputSerializer,
        examples=FILLS,
    )
    def get(self, request: Request) -> Response:
        query = s.FillListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        pair = pair_get(symbol=q["pair"]) if q.get("pair") else None
        order = (
            selectors.order_get_for_user(user=request.user, order_ref=q["order_id"])
            if q.get("order_id")
            else None
        )
        fills = selectors.fills_for_user(
            user=request.user,
            pair_id=pair.pk if pair else None,
            order=order,
            before_id=q.get("cursor"),
        )
        page, cursor = page_by_id(fills, q["limit"])
        data = s.FillOutputSerializer(
            page, many=True, context={"user_id": request.user.pk}
        ).data
        return Response({"fills": data, "next_cursor": cursor})
