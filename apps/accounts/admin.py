from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import render

from apps.accounts.models import Account, Balance, LedgerEntry, Tier
from apps.accounts.services import account_set_tier, balance_adjust
from apps.apikeys.ip import change_author
from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.core.money import format_units, parse_units


class AccountInline(admin.StackedInline):
    """Shown on the user's page; the tier changes on the account's own page
    or with its actions (through ``account_set_tier``, logged)."""

    model = Account
    can_delete = False
    fields = ("tier", "is_system")
    readonly_fields = ("tier", "is_system")

    def has_add_permission(self, request, obj=None):
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    inlines = [AccountInline]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """The verification tier: it decides the order-book depth a user may read
    (1,000 levels for verified and market makers, 100 otherwise)."""

    list_display = ("user", "tier", "is_system", "created_at")
    list_filter = ("tier", "is_system")
    search_fields = ("user__username", "user__email")
    fields = ("user", "tier", "is_system")
    readonly_fields = ("user", "is_system")
    actions = ["set_unverified", "set_verified", "set_market_maker"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        account_set_tier(
            user=obj.user, tier=form.cleaned_data["tier"], **change_author(request)
        )

    def _set_tier(self, request, queryset, tier: str) -> None:
        for account in queryset.select_related("user").order_by("pk"):
            account_set_tier(user=account.user, tier=tier, **change_author(request))
            self.log_change(request, account, f"Set the tier to {tier}")
        self.message_user(request, f"{queryset.count()} account(s) now {tier}.")

    @admin.action(description="Set tier: unverified")
    def set_unverified(self, request, queryset):
        self._set_tier(request, queryset, Tier.UNVERIFIED)

    @admin.action(description="Set tier: verified")
    def set_verified(self, request, queryset):
        self._set_tier(request, queryset, Tier.VERIFIED)

    @admin.action(description="Set tier: market maker")
    def set_market_maker(self, request, queryset):
        self._set_tier(request, queryset, Tier.MARKET_MAKER)


class AdjustForm(forms.Form):
    amount = forms.CharField(
        help_text="Decimal, may start with '-' to debit, e.g. -0.5"
    )
    reason = forms.CharField(max_length=64)


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "asset",
        "wallet",
        "available_display",
        "held_display",
        "updated_at",
    )
    list_filter = ("asset", "wallet")
    search_fields = ("user__username",)
    actions = ["adjust"]

    @admin.display(description="available")
    def available_display(self, obj):
        return format_units(obj.available, obj.asset.scale)

    @admin.display(description="held")
    def held_display(self, obj):
        return format_units(obj.held, obj.asset.scale)

    def has_adjust_permission(self, request):
        return request.user.is_superuser

    @admin.action(
        description="Adjust available (writes a ledger entry)", permissions=["adjust"]
    )
    def adjust(self, request, queryset):
        form = AdjustForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            text = form.cleaned_data["amount"].strip()
            sign = -1 if text.startswith("-") else 1
            done = 0
            for balance in queryset.select_related("asset", "user"):
                try:
                    delta = sign * parse_units(
                        text.lstrip("-"), balance.asset.scale, field="amount"
                    )
                    balance_adjust(
                        user=balance.user,
                        asset=balance.asset,
                        wallet=balance.wallet,
                        delta=delta,
                        ref=form.cleaned_data["reason"],
                    )
                    self.log_change(
                        request,
                        balance,
                        f"Adjusted available by {'-' if sign < 0 else '+'}"
                        f"{format_units(abs(delta), balance.asset.scale)} "
                        f"{balance.asset.code}: {form.cleaned_data['reason']}",
                    )
                    done += 1
                except DomainError as exc:
                    self.message_user(
                        request, f"{balance}: {exc.code} {exc.message}", messages.ERROR
                    )
            self.message_user(request, f"Adjusted {done} balance(s).")
            return None
        return render(
            request,
            "admin/balance_adjust.html",
            {
                "form": form,
                "balances": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user",
        "asset",
        "wallet",
        "reason",
        "delta_available",
        "delta_held",
        "available_after",
        "held_after",
        "order_id",
        "trade_id",
        "ref",
        "created_at",
    )
    list_filter = ("reason", "asset", "wallet")
    search_fields = ("user__username", "ref")


# Registers WithdrawalAdmin (kept in its own module).
from apps.accounts import admin_withdrawals  # noqa: E402, F401
