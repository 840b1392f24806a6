"""POST /v1/orders/{order_id}/amend: a new price and/or size for a live order.

Thin: the body is parsed here, apps.orders.amends validates, holds and
queues, the matcher applies (docs/matching-engine.md, "Amend"), and the
answer is the order's body after the amend, as POST /v1/orders returns it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.base import SignedAPIView
from apps.core.api.fields import DecimalString
from apps.core.api.serializers import StrictInputSerializer
from apps.core.errors import DomainError, ErrorCode
from apps.orders import amends, selectors
from apps.orders.api import actions
from apps.orders.api.examples import PLACED
from apps.orders.api.serializers import OrderOutputSerializer
from apps.orders.api.views import ORDER_ID
from apps.orders.validation import price_to_ticks, size_to_lots

AMEND_WEIGHT = 1


class OrderAmendInputSerializer(StrictInputSerializer):
    price = DecimalString(
        required=False, allow_null=True, help_text="New limit price (default: same)."
    )
    size = DecimalString(
        required=False,
        allow_null=True,
        help_text="New total size, what already filled included (default: same).",
    )

    def to_internal_value(self, data: Any) -> Any:
        # As for placement: a JSON number is refused by money.parse_units
        # (VALIDATION_INVALID_DECIMAL), not coerced to a string here.
        values = super().to_internal_value(data)
        if isinstance(data, dict):
            for name in ("price", "size"):
                if data.get(name) is not None:
                    values[name] = data[name]
        return values


def amend(*, user_id: int, order_ref: str, data: Any) -> actions.Answer:
    """Amend one order and wait (bounded) for the matcher's answer: 200 with
    the order after the amend, or 202 with it as it stands if the matcher
    has not answered yet (the amend stays queued)."""
    body = OrderAmendInputSerializer(data=data or {})
    body.is_valid(raise_exception=True)
    values = {k: v for k, v in body.validated_data.items() if v not in (None, "")}
    if not values:
        raise DomainError(
            "Send a new price, a new size, or both.",
            code=ErrorCode.VALIDATION_ERROR,
            details={"fields": ["price", "size"]},
        )
    order = selectors.order_get_for_user(user=user_id, order_ref=order_ref)
    pair = order.pair
    price = (
        price_to_ticks(pair, values["price"], field="price")
        if "price" in values
        else None
    )
    size = size_to_lots(pair, values["size"]) if "size" in values else None
    command = amends.order_amend(order=order, price=price, size=size)
    done = amends.amend_wait(
        order=order,
        command=command,
        timeout_s=settings.ORDER_RESULT_TIMEOUT_MS / 1000,
    )
    return actions.Answer(200 if done else 202, actions.order_body(order), order=order)


AMENDED = {
    **{k: v for k, v in PLACED.items() if k != "fills"},
    "price": "62900.000000",
    "size": "0.00800000",
    "remaining_size": "0.00400000",
    "held": "504.607200",
}


class OrderAmendView(SignedAPIView):
    """Amend a live GTC limit order: a smaller size at the same price keeps its place in the queue; a new price or a larger size is an atomic cancel-replace under the same order id that loses it (and may trade at once)."""

    required_scope = "trade"
    rate_weight = AMEND_WEIGHT
    error_codes = (
        ErrorCode.VALIDATION_ERROR,
        ErrorCode.VALIDATION_INVALID_DECIMAL,
        ErrorCode.VALIDATION_TOO_MANY_DECIMALS,
        ErrorCode.VALIDATION_OUT_OF_RANGE,
        ErrorCode.ORDER_NOT_FOUND,
        ErrorCode.ORDER_PRICE_OFF_TICK,
        ErrorCode.ORDER_SIZE_OFF_LOT,
        ErrorCode.ORDER_SIZE_TOO_SMALL,
        ErrorCode.ORDER_NOTIONAL_TOO_SMALL,
        ErrorCode.ORDER_ALREADY_FILLED,
        ErrorCode.ORDER_ALREADY_CANCELLED,
        ErrorCode.ORDER_NOT_AMENDABLE,
        ErrorCode.ORDER_AMEND_NO_CHANGE,
        ErrorCode.ORDER_AMEND_SIZE_BELOW_FILLED,
        ErrorCode.ORDER_AMEND_PENDING,
        ErrorCode.ORDER_POST_ONLY_WOULD_TAKE,
        ErrorCode.ORDER_INVALID_PARAMETERS,
        ErrorCode.ACCOUNT_INSUFFICIENT_FUNDS,
        ErrorCode.MARKET_HALTED,
        ErrorCode.MARKET_CANCEL_ONLY,
        ErrorCode.SYSTEM_OVERLOADED,
    )

    @extend_schema(
        operation_id="order_amend",
        tags=["orders"],
        parameters=[ORDER_ID],
        request=OrderAmendInputSerializer,
        responses={
            200: OpenApiResponse(
                OrderOutputSerializer,
                description="Amended and processed by the matcher: the order as "
                "it stands after the amend (a new price may have traded at once).",
            ),
            202: OpenApiResponse(
                OrderOutputSerializer,
                description="Queued, not yet applied: the matcher had not "
                "answered within the deadline. Poll GET /v1/orders/{order_id}.",
            ),
        },
        examples=[
            OpenApiExample(
                "NewPriceAndSize",
                summary="Move the price down one tick and cut the size",
                value={"price": "62900.00", "size": "0.0080"},
                request_only=True,
            ),
            OpenApiExample(
                "Amended",
                summary="The order after the amend (cancel-replace: priority lost)",
                value=AMENDED,
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request, order_id: str) -> Response:
        answer = amend(user_id=request.user.pk, order_ref=order_id, data=request.data)
        return Response(answer.body, status=answer.status)
