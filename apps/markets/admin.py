from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.markets.models import Asset, MarketEvent, Pair, PairStatus
from apps.markets.services import pair_set_status


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
    actions = ["set_trading", "set_cancel_only", "set_halted"]

    def get_readonly_fields(self, request, obj=None):
        # Resting orders are stored in ticks and lots of this grid, and their
        # holds and cumulative fees were computed with these fee rates.
        fixed = (
            "symbol",
            "base",
            "quote",
            "tick_size",
            "lot_size",
            "maker_fee_bps",
            "taker_fee_bps",
        )
        return fixed if obj else ()

    def _set(self, request, queryset, status: str) -> None:
        for pair in queryset:
            pair_set_status(pair=pair, status=status)
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
