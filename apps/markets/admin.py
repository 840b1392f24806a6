from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.markets.models import Asset, MarketEvent, Pair, PairStatus
from apps.markets.services import pair_create, pair_set_status, pair_update

# Fixed once a pair is listed: resting orders are stored in ticks and lots of
# this grid, their holds and cumulative fees were computed with these fee
# rates, and bots were written against the minimums. A different grid is a
# new pair.
LISTING_FIELDS = (
    "symbol",
    "base",
    "quote",
    "tick_size",
    "lot_size",
    "min_size",
    "min_notional",
    "maker_fee_bps",
    "taker_fee_bps",
)


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "scale",
        "circulating_supply",
        "deposit_enabled",
        "withdraw_enabled",
    )
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        # The scale defines every stored amount of the asset; it cannot change later.
        return ("scale",) if obj else ()


@admin.register(Pair)
class PairAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "status",
        "tick_size",
        "lot_size",
        "min_size",
        "min_notional",
        "maker_fee_bps",
        "taker_fee_bps",
        "price_band_bps",
    )
    list_filter = ("status",)
    search_fields = ("symbol",)
    actions = ["set_trading", "set_cancel_only", "set_halted"]
    fields = (*LISTING_FIELDS, "price_band_bps", "status")

    def get_readonly_fields(self, request, obj=None):
        return LISTING_FIELDS if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False  # orders, trades and events refer to it: halt it instead

    def save_model(self, request, obj, form, change):
        """Through the markets services, never ``obj.save()``: a new pair is
        listed (a running matcher of all pairs takes it), an existing one
        changes only its status and price band."""
        data = form.cleaned_data
        if change:
            pair_update(
                pair=obj, status=data["status"], price_band_bps=data["price_band_bps"]
            )
            return
        created = pair_create(
            **{f: data[f] for f in LISTING_FIELDS},
            price_band_bps=data["price_band_bps"],
            status=data["status"],
        )
        obj.pk, obj.symbol, obj.created_at = (
            created.pk,
            created.symbol,
            created.created_at,
        )

    def _set(self, request, queryset, status: str) -> None:
        for pair in queryset.order_by("pk"):
            pair_set_status(pair=pair, status=status)
            self.log_change(request, pair, f"Set the status to {status}")
        self.message_user(request, f"{queryset.count()} pair(s) set to {status}.")

    @admin.action(description="Resume trading")
    def set_trading(self, request, queryset):
        self._set(request, queryset, PairStatus.TRADING)

    @admin.action(description="Cancel only")
    def set_cancel_only(self, request, queryset):
        self._set(request, queryset, PairStatus.CANCEL_ONLY)

    @admin.action(description="Halt")
    def set_halted(self, request, queryset):
        self._set(request, queryset, PairStatus.HALTED)


@admin.register(MarketEvent)
class MarketEventAdmin(ReadOnlyAdmin):
    list_display = ("pair", "seq", "type", "created_at")
    list_filter = ("pair", "type")
