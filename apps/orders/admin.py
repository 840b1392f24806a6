from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.orders.models import Order, OrderCommand, Trade


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "uuid",
        "user",
        "pair",
        "side",
        "type",
        "price",
        "size",
        "filled_size",
        "status",
        "client_order_id",
        "created_at",
    )
    list_filter = ("status", "pair", "side", "type")
    search_fields = ("uuid", "client_order_id", "user__username")


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = (
        "pair",
        "seq",
        "price",
        "size",
        "taker_side",
        "maker_fee",
        "taker_fee",
        "created_at",
    )
    list_filter = ("pair",)


@admin.register(OrderCommand)
class OrderCommandAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "pair",
        "kind",
        "order",
        "created_at",
        "processed_at",
        "result",
    )
    list_filter = ("pair", "kind")
