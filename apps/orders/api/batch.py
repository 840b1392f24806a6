"""Batch endpoints: ``POST /v1/orders/batch`` and ``POST /v1/orders/cancel-batch``.

Each entry is parsed here as the single call parses its body, placed or
cancelled by apps/orders/batch.py, and answered in its slot with the single
call's status and body: ``{"status": 201, "order": {...}}`` for a placement,
``{"status": 200, "cancel_result": ..., "order": {...}}`` for a cancel, or
``{"status": 400, "error": {...}}`` (the single call's error object) for an
entry refused alone. The batch itself answers 200 unless the batch as a whole
is refused (bad body, size, signing, rate limit).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.base import SignedAPIView
from apps.core.api.schema import ErrorDetailSerializer
from apps.core.api.serializers import StrictInputSerializer, check_body
from apps.core.errors import DomainError, ErrorCode, ValidationFailed
from apps.core.exceptions import domain_error_of, error_body
from apps.markets.selectors import pair_get_for_trading
from apps.orders import batch
from apps.orders.api import serializers as s
from apps.orders.api.actions import order_body
from apps.orders.api.examples import (
    BATCH_CANCEL_EXAMPLES,
    BATCH_PLACE_EXAMPLES,
)
from apps.orders.services import PlaceResult
from apps.orders.validation import order_request_from_wire
from apps.orders.wire import order_body as wire_order_body

# One charge per batch, whatever its size (1-20 entries): a full batch costs
# half a single call's weight per order.
BATCH_PLACE_WEIGHT = 10
BATCH_CANCEL_WEIGHT = 5

SLOT_STATUS_HELP = "The HTTP status the single call would have answered for this entry."


class _Text(serializers.CharField):
    """A CharField that takes a JSON string only (a number is not an id)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrderBatchPlaceInputSerializer(StrictInputSerializer):
    orders = serializers.ListField(
        child=s.OrderPlaceInputSerializer(),
        min_length=1,
        max_length=batch.MAX_BATCH,
        help_text="1-20 orders, each the body of POST /v1/orders; pairs may differ.",
    )


class OrderBatchPlaceResultSerializer(serializers.Serializer):
    status = serializers.IntegerField(
        help_text=SLOT_STATUS_HELP + " 200 replayed (client_order_id already "
        "used for the same order), 201 processed, 202 pending, else an error."
    )
    order = s.OrderOutputSerializer(required=False, help_text="When placed.")
    error = ErrorDetailSerializer(required=False, help_text="When refused.")


class OrderBatchPlaceOutputSerializer(serializers.Serializer):
    results = OrderBatchPlaceResultSerializer(
        many=True, help_text="One per order, in request order."
    )


class OrderBatchCancelInputSerializer(StrictInputSerializer):
    order_ids = serializers.ListField(
        child=_Text(max_length=80),
        required=False,
        default=list,
        help_text="Order ids (or client:<client_order_id>, as in the cancel path).",
    )
    client_order_ids = serializers.ListField(
        child=_Text(max_length=80),
        required=False,
        default=list,
        help_text="client_order_ids; with order_ids, 1-20 in all.",
    )


class OrderBatchCancelResultSerializer(serializers.Serializer):
    status = serializers.IntegerField(
        help_text=SLOT_STATUS_HELP + " 200 final, 202 cancel still pending, "
        "else an error."
    )
    cancel_result = serializers.ChoiceField(
        choices=s.CancelOutputSerializer().fields["cancel_result"].choices,
        required=False,
    )
    order = s.OrderOutputSerializer(required=False)
    error = ErrorDetailSerializer(required=False, help_text="When refused.")


class OrderBatchCancelOutputSerializer(serializers.Serializer):
    results = OrderBatchCancelResultSerializer(
        many=True,
        help_text="One per entry, in request order: order_ids, then client_order_ids.",
    )


def _error_slot(exc: DomainError, request_id: str) -> dict[str, Any]:
    return {
        "status": exc.status,
        **error_body(exc.code, exc.message, request_id, exc.details),
    }


def _entries(data: Any) -> list[Any]:
    """The body's ``orders``: the strict body rules (an object with only
    ``orders``, an array), VALIDATION_ERROR if missing, then its size."""
    check_body(data, OrderBatchPlaceInputSerializer().fields)
    orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(orders, list):
        raise ValidationFailed(
            "The body must be an object with a list of orders.",
            details={"field": "orders"},
        )
    batch.check_batch_size(len(orders))
    return orders


def _parse(item: Any) -> tuple[batch.PlaceEntry, bool] | DomainError:
    """One entry as POST /v1/orders parses its body; (entry, with fills)."""
    try:
        values = s.place_input(item)
        pair = pair_get_for_trading(symbol=values["pair"])
        req = order_request_from_wire(pair=pair, data=values)
    except Exception as exc:  # noqa: BLE001 - one entry's error stays in its slot
        return domain_error_of(exc)
    response_type = values["response_type"]
    return batch.PlaceEntry(pair, req, response_type != "ack"), response_type == "full"


def _placed_slot(placed: PlaceResult, full: bool) -> dict[str, Any]:
    order = placed.order
    if placed.replayed:
        status = 200
    else:
        status = 202 if order.status == "pending" else 201
    # Without fills the wire body directly: a serializer per order would cost
    # a batch of 20 more CPU than its orders' placement (as place_input notes).
    body = (
        order_body(order, with_fills=True)
        if full
        else wire_order_body(order, order.pair)
    )
    return {"status": status, "order": body}


def place_batch(*, api_key: Any, data: Any, request_id: str) -> dict[str, Any]:
    """Parse, place and answer every order of a batch body."""
    parsed = [_parse(item) for item in _entries(data)]
    valid = [p for p in parsed if not isinstance(p, DomainError)]
    placed = iter(
        batch.orders_place_batch(
            user_id=api_key.user_id, api_key=api_key, entries=[e for e, _ in valid]
        )
    )
    results = []
    for p in parsed:
        outcome = p if isinstance(p, DomainError) else next(placed)
        if isinstance(outcome, DomainError):
            results.append(_error_slot(outcome, request_id))
        else:
            assert not isinstance(p, DomainError)
            results.append(_placed_slot(outcome, full=p[1]))
    return {"results": results}


def _cancel_refs(data: Any) -> list[str]:
    if isinstance(data, dict):  # the size first: a long list is not read
        lists = [data.get(k) for k in ("order_ids", "client_order_ids")]
        count = sum(len(v) for v in lists if isinstance(v, list))
        if count > batch.MAX_BATCH:
            batch.check_batch_size(count)
    values = OrderBatchCancelInputSerializer(data=data)
    values.is_valid(raise_exception=True)
    ids, coids = (
        values.validated_data["order_ids"],
        values.validated_data["client_order_ids"],
    )
    batch.check_batch_size(len(ids) + len(coids))
    return [*ids, *(f"client:{c}" for c in coids)]


def cancel_batch(*, user_id: int, data: Any, request_id: str) -> dict[str, Any]:
    """Cancel every order a cancel-batch body names, and answer each."""
    results = []
    for outcome in batch.orders_cancel_batch(
        user_id=user_id, order_refs=_cancel_refs(data)
    ):
        if isinstance(outcome, DomainError):
            results.append(_error_slot(outcome, request_id))
            continue
        final = outcome.result != "pending"
        results.append(
            {
                "status": 200 if final else 202,
                "cancel_result": outcome.result,
                "order": order_body(outcome.order),
            }
        )
    return {"results": results}


ENTRY_ERRORS = (
    ErrorCode.VALIDATION_MALFORMED_JSON,
    ErrorCode.VALIDATION_BATCH_SIZE,
)


class OrderBatchPlaceView(SignedAPIView):
    """Place 1-20 orders (pairs may differ) in one call. Each order is validated, held and queued on its own: one refused order fails alone in its slot, with the error a single POST /v1/orders would answer, and the others go through. The answer (200) lists one result per order in request order, each with the single call's status and body, after one bounded wait for the matcher's outcome of them all. Every client_order_id keeps its idempotency; a client_order_id repeated within the batch is refused in the later slot (ORDER_BATCH_DUPLICATE_CLIENT_ID). One rate-limit charge per batch."""

    required_scope = "trade"
    rate_weight = BATCH_PLACE_WEIGHT
    error_codes = ENTRY_ERRORS

    @extend_schema(
        operation_id="order_place_batch",
        tags=["orders"],
        request=OrderBatchPlaceInputSerializer,
        responses={
            200: OpenApiResponse(
                OrderBatchPlaceOutputSerializer,
                description="Per-order results in request order; an entry's "
                "error is any of POST /v1/orders, or "
                "`ORDER_BATCH_DUPLICATE_CLIENT_ID` (a client_order_id repeated "
                "within the batch).",
            )
        },
        examples=BATCH_PLACE_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        body = place_batch(
            api_key=request.api_key,
            data=request.data,
            request_id=getattr(request, "request_id", ""),
        )
        return Response(body)


class OrderBatchCancelView(SignedAPIView):
    """Cancel 1-20 orders by id and/or client_order_id in one call. Each cancel is queued on its own (idempotent, as POST /v1/orders/{order_id}/cancel); an unknown order fails alone in its slot (ORDER_NOT_FOUND). The answer (200) lists one result per entry, order_ids first then client_order_ids, each with the single cancel's status and body, after one bounded wait for the matcher. One rate-limit charge per batch."""

    required_scope = "trade"
    rate_weight = BATCH_CANCEL_WEIGHT
    error_codes = ENTRY_ERRORS

    @extend_schema(
        operation_id="order_cancel_batch",
        tags=["orders"],
        request=OrderBatchCancelInputSerializer,
        responses={
            200: OpenApiResponse(
                OrderBatchCancelOutputSerializer,
                description="Per-entry results: order_ids first, then "
                "client_order_ids, each in request order.",
            )
        },
        examples=BATCH_CANCEL_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        body = cancel_batch(
            user_id=request.user.pk,
            data=request.data,
            request_id=getattr(request, "request_id", ""),
        )
        return Response(body)
