"""Order and fill shapes on the wire: every amount a decimal string."""

from __future__ import annotations

import functools
from typing import Any

from rest_framework import serializers

from apps.core.api.fields import DecimalString
from apps.core.api.formats import MAX_UNIX_MS, iso_utc
from apps.core.api.serializers import StrictInputSerializer
from apps.core.money import MAX_UNITS
from apps.orders.models import (
    Order,
    OrderStatus,
    OrderType,
    Side,
    Stp,
    TimeInForce,
    Trade,
)
from apps.orders.wire import order_body, trade_fill_body


class OrderPlaceInputSerializer(StrictInputSerializer):
    pair = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=Side.values)
    type = serializers.ChoiceField(choices=OrderType.values)
    price = DecimalString(
        required=False, allow_null=True, help_text="Limit price, quote per base."
    )
    stop_price = DecimalString(required=False, allow_null=True)
    size = DecimalString(required=False, allow_null=True, help_text="Base amount.")
    funds = DecimalString(
        required=False, allow_null=True, help_text="Market buys: max quote incl. fees."
    )
    time_in_force = serializers.ChoiceField(
        choices=TimeInForce.values, default=TimeInForce.GTC
    )
    post_only = serializers.BooleanField(default=False)
    stp = serializers.ChoiceField(choices=Stp.values, default=Stp.CANCEL_NEWEST)
    client_order_id = serializers.CharField(
        required=False, allow_null=True, max_length=36
    )
    response_type = serializers.ChoiceField(
        choices=["ack", "result", "full"], default="result"
    )

    def to_internal_value(self, data: Any) -> Any:
        # Amounts must arrive as strings; a JSON number is refused by money.parse_units
        # with VALIDATION_INVALID_DECIMAL rather than silently coerced here.
        values = super().to_internal_value(data)
        if isinstance(data, dict):
            for name in ("price", "stop_price", "size", "funds"):
                if name in data and data[name] is not None:
                    values[name] = data[name]
        return values


def _plain_text(value: object, max_length: int | None = None) -> bool:
    """What a CharField takes unchanged: a non-blank string without outer
    whitespace (it trims), NUL or surrogates (its validators refuse them)."""
    return (
        isinstance(value, str)
        and value != ""
        and value == value.strip()
        and value.isprintable()
        and (max_length is None or len(value) <= max_length)
    )


def place_input(data: Any) -> dict[str, Any]:
    """``OrderPlaceInputSerializer(data=data)``'s validated data.

    Hand-written fast path for a plainly valid body, the order path's common
    case: a DRF serializer builds and deep-copies its twelve fields on every
    instance, which was a fifth of the API's CPU per order. Anything the fast
    path does not recognise goes through the serializer itself, so errors and
    edge cases are exactly the serializer's (a test compares the two): an
    unknown field or a value of the wrong JSON type among them (the
    StrictInputSerializer's DomainErrors).
    """
    fields = _place_fields()
    if isinstance(data, dict) and data.keys() <= fields.keys():
        values: dict[str, Any] = {}
        for name, field in fields.items():
            value = data.get(name, _ABSENT)
            if value is _ABSENT:
                if field.default is not serializers.empty:
                    values[name] = field.default
                elif field.required:
                    break
                continue
            if value is None:
                if not field.allow_null:
                    break
            elif isinstance(field, serializers.BooleanField):
                if not isinstance(value, bool):
                    break
            elif isinstance(field, serializers.ChoiceField):
                if not isinstance(value, str) or value not in field.choices:
                    break
            elif not _plain_text(value, field.max_length):
                break
            values[name] = value
        else:
            return values
    serializer = OrderPlaceInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


_ABSENT = object()


@functools.cache
def _place_fields() -> dict[str, serializers.Field]:
    return dict(OrderPlaceInputSerializer().fields)


class FillOutputSerializer(serializers.Serializer):
    trade_id = serializers.IntegerField()
    order_id = serializers.UUIDField()
    pair = serializers.CharField()
    side = serializers.ChoiceField(choices=Side.values)
    liquidity = serializers.ChoiceField(choices=["maker", "taker"])
    price = DecimalString()
    size = DecimalString()
    quote = DecimalString()
    fee = DecimalString()
    fee_asset = serializers.CharField()
    time = serializers.DateTimeField()

    def to_representation(self, trade: Trade) -> dict[str, Any]:
        body = trade_fill_body(trade, user_id=self.context["user_id"])
        body["time"] = iso_utc(trade.created_at)
        return body


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_order_id = serializers.CharField(allow_null=True)
    pair = serializers.CharField()
    side = serializers.ChoiceField(choices=Side.values)
    type = serializers.ChoiceField(choices=OrderType.values)
    time_in_force = serializers.ChoiceField(choices=TimeInForce.values)
    post_only = serializers.BooleanField()
    stp = serializers.ChoiceField(choices=Stp.values)
    price = DecimalString(allow_null=True)
    stop_price = DecimalString(allow_null=True)
    size = DecimalString(allow_null=True)
    funds = DecimalString(allow_null=True)
    filled_size = DecimalString()
    remaining_size = DecimalString(allow_null=True)
    filled_quote = DecimalString(help_text="Executed value in quote.")
    average_price = DecimalString(allow_null=True)
    fee = DecimalString()
    fee_asset = serializers.CharField()
    held = DecimalString(
        help_text="Amount held at placement (base for sells, quote for buys)."
    )
    status = serializers.ChoiceField(choices=OrderStatus.values)
    reason = serializers.CharField(
        help_text="Why it was rejected or cancelled; empty otherwise. "
        "user_cancelled: you cancelled it; dead_man_switch: the key's "
        "cancel-all-after timer fired; cancel_on_disconnect: the WebSocket "
        "session that placed it, with that option, ended. The matcher's own "
        "(ioc_remainder, self_trade, post_only_would_take, ...) say why it "
        "refused or stopped the order. A string, not a closed set."
    )
    triggered = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)
    fills = FillOutputSerializer(
        many=True, required=False, help_text="With response_type=full."
    )

    def to_representation(self, order: Order) -> dict[str, Any]:
        data = order_body(order, order.pair)
        fills = self.context.get("fills")
        if fills is not None:
            data["fills"] = FillOutputSerializer(
                fills, many=True, context={"user_id": order.user_id}
            ).data
        return data


class OrderListOutputSerializer(serializers.Serializer):
    orders = OrderOutputSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class FillListOutputSerializer(serializers.Serializer):
    fills = FillOutputSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class CancelOutputSerializer(serializers.Serializer):
    cancel_result = serializers.ChoiceField(
        choices=[
            "cancelled",
            "already_cancelled",
            "already_filled",
            "already_rejected",
            "pending",
        ]
    )
    order = OrderOutputSerializer()


class CancelAllInputSerializer(StrictInputSerializer):
    pair = serializers.CharField(required=False, max_length=32)


class CancelAllOutputSerializer(serializers.Serializer):
    requested = serializers.ListField(child=serializers.UUIDField())
    cancelled = serializers.ListField(child=serializers.UUIDField())
    pending = serializers.ListField(child=serializers.UUIDField())


class CancelAllAfterInputSerializer(StrictInputSerializer):
    timeout_s = serializers.IntegerField(
        min_value=0,
        max_value=3600,
        help_text="0 disarms the timer; else 5-3600 seconds.",
    )


class CancelAllAfterOutputSerializer(serializers.Serializer):
    armed = serializers.BooleanField()
    deadline = serializers.DateTimeField(allow_null=True)
    server_time = serializers.IntegerField()


class OrderListQuerySerializer(serializers.Serializer):
    pair = serializers.CharField(required=False, max_length=32)
    status = serializers.ChoiceField(
        choices=["live", *OrderStatus.values], required=False
    )
    since = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_UNIX_MS,
        help_text="Unix ms, inclusive.",
    )
    until = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_UNIX_MS,
        help_text="Unix ms, exclusive.",
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=500, default=100
    )
    cursor = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_UNITS,
        help_text="next_cursor of the previous page.",
    )


class FillListQuerySerializer(serializers.Serializer):
    pair = serializers.CharField(required=False, max_length=32)
    order_id = serializers.CharField(required=False, max_length=80)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=500, default=100
    )
    cursor = serializers.IntegerField(required=False, min_value=1, max_value=MAX_UNITS)
