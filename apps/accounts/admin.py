from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import render

from apps.accounts.models import Account, Balance, LedgerEntry
from apps.accounts.services import balance_adjust
from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.core.money import format_units, parse_units


class AccountInline(admin.StackedInline):
    model = Account
    can_delete = False
    fields = ("tier", "is_system")
    readonly_fields = ("is_system",)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    inlines = [AccountInline]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("user", "tier", "is_system", "created_at")
    list_filter = ("tier", "is_system")
    fields = ("user", "tier", "is_system")
    readonly_fields = ("user", "is_system")

    def has_add_permission(self, request, obj=None):
        return False


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
