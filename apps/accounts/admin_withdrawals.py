"""Withdrawals in the admin: read-only rows, and actions that call the
services (complete: debit the held amount; fail: release it)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.template import engines

from apps.accounts.models import Withdrawal, WithdrawalStatus
from apps.accounts.withdrawals import withdrawal_complete, withdrawal_fail
from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.core.money import format_units

# Inline so this admin stays one file; the same layout as balance_adjust.html.
_ACTION_PAGE = engines["django"].from_string("""{% extends "admin/base_site.html" %}
{% block content %}
<h1>{{ title }}</h1>
<p>Each one goes through the money service and writes a ledger entry. Only
pending withdrawals are changed.</p>
<ul>{% for w in withdrawals %}<li>{{ w.uuid }}: {{ w.user }} / {{ w.asset }} /
{{ w.wallet }} ({{ w.status }})</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
  {{ form.as_p }}
  {% for w in withdrawals %}<input type="hidden" name="{{ action_checkbox_name }}"
  value="{{ w.pk }}">{% endfor %}
  <input type="hidden" name="action" value="{{ action }}">
  <input type="submit" name="apply" value="Apply">
</form>
{% endblock %}""")


class WithdrawalCompleteForm(forms.Form):
    txid = forms.CharField(
        max_length=128, required=False, help_text="The chain transaction id, if known."
    )


class WithdrawalFailForm(forms.Form):
    reason = forms.CharField(max_length=128, help_text="Shown to the account holder.")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = (
        "uuid",
        "user",
        "asset",
        "wallet",
        "amount_display",
        "address",
        "status",
        "txid",
        "created_at",
        "done_at",
    )
    list_filter = ("status", "asset", "wallet")
    search_fields = ("uuid", "user__username", "address", "txid")
    actions = ["complete", "fail"]

    @admin.display(description="amount")
    def amount_display(self, obj: Withdrawal) -> str:
        return format_units(obj.amount, obj.asset.scale)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("asset", "user")

    def has_settle_permission(self, request) -> bool:
        return request.user.is_superuser

    def _apply(self, request, queryset, form_class, template_title, run):
        form = form_class(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "form": form,
                "withdrawals": queryset,
                "title": template_title,
                "action": request.POST.get("action", ""),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return HttpResponse(_ACTION_PAGE.render(context, request))
        done = 0
        for withdrawal in queryset.filter(status=WithdrawalStatus.PENDING):
            try:
                run(withdrawal, form.cleaned_data)
                details = ", ".join(f"{k} {v}" for k, v in form.cleaned_data.items())
                self.log_change(
                    request, withdrawal, f"{template_title}: done ({details})"
                )
                done += 1
            except DomainError as exc:
                self.message_user(
                    request, f"{withdrawal}: {exc.code} {exc.message}", messages.ERROR
                )
        skipped = queryset.exclude(status=WithdrawalStatus.PENDING).count()
        note = f" ({skipped} not pending, left alone)" if skipped else ""
        self.message_user(request, f"{template_title}: {done} withdrawal(s){note}.")
        return None

    @admin.action(
        description="Complete (debit the held amount)", permissions=["settle"]
    )
    def complete(self, request, queryset):
        return self._apply(
            request,
            queryset,
            WithdrawalCompleteForm,
            "Complete withdrawals",
            lambda w, data: withdrawal_complete(withdrawal_id=w.pk, txid=data["txid"]),
        )

    @admin.action(description="Fail (release the held amount)", permissions=["settle"])
    def fail(self, request, queryset):
        return self._apply(
            request,
            queryset,
            WithdrawalFailForm,
            "Fail withdrawals",
            lambda w, data: withdrawal_fail(withdrawal_id=w.pk, reason=data["reason"]),
        )
