"""ApiKey admin: scope, IP allow-list, drift, weight tier, disable, revoke.

The secret is never shown (not even encrypted) and keys are not created here:
a secret must reach its owner once, through ``createapikey`` or the account's
API key page. Every change goes through ``apps.apikeys.services`` (never
``save()`` here), so that the services can record it; each action also writes
Django's admin log (the object's "History"), the form's saves write it by
themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.apikeys import services
from apps.apikeys.ip import change_author
from apps.apikeys.models import (
    MARKET_MAKER_WEIGHT_PER_MINUTE,
    RETAIL_WEIGHT_PER_MINUTE,
    ApiKey,
    Scope,
)
from apps.core.errors import DomainError


def _messages(exc: DomainError) -> list[str]:
    fields = exc.details.get("fields") or {}
    found = [str(m) for value in fields.values() for m in value]
    return found or [exc.message]


class ApiKeyAdminForm(forms.ModelForm):
    ip_allowlist_text = forms.CharField(
        label="IP allow-list",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One address or CIDR network per line, IPv4 or IPv6. Required "
        "for trade and withdraw keys; empty on a read key allows any address.",
    )

    class Meta:
        model = ApiKey
        fields = ["label", "scope", "drift_ms", "weight_per_minute"]
        help_texts = {
            "drift_ms": "Accepted clock skew, 500-60,000 ms.",
            "weight_per_minute": f"Rate-limit budget: {RETAIL_WEIGHT_PER_MINUTE} retail, "
            f"{MARKET_MAKER_WEIGHT_PER_MINUTE} market maker.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ip_allowlist_text"].initial = "\n".join(
            self.instance.ip_allowlist or []
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.revoked_at is not None:
            raise forms.ValidationError("A revoked key cannot be changed.")
        try:
            data["ip_allowlist"] = services.clean_allowlist(
                data.get("ip_allowlist_text", "")
            )
            services.check_allowlist_for_scope(
                Scope(data.get("scope") or Scope.READ), data["ip_allowlist"]
            )
        except DomainError as exc:
            raise forms.ValidationError(_messages(exc)) from exc
        return data


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyAdminForm
    list_display = [
        "key",
        "user",
        "label",
        "scope",
        "allowlist",
        "drift_ms",
        "weight_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope", "disabled_at", "revoked_at"]
    search_fields = ["key", "label", "user__username", "user__email"]

    @admin.display(description="Changes (owner's and staff's)")
    def change_record(self, obj: ApiKey) -> str:
        """The key's ApiKeyChange rows, newest first (read-only; the services
        write them with each change)."""
        rows = obj.changes.select_related("actor").order_by("-created_at", "-pk")[:50]
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {} by {}{} from {}: {}</li>",
                (
                    (
                        f"{c.created_at:%Y-%m-%d %H:%M:%S}",
                        c.get_action_display(),
                        c.actor or "system",
                        " (staff)" if c.by_staff else "",
                        c.ip or "-",
                        c.summary() or "-",
                    )
                    for c in rows
                ),
            ),
        )

    readonly_fields = [
        "key",
        "user",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "disabled_at",
        "revoked_at",
        "change_record",
    ]
    fields = [
        "key",
        "user",
        "label",
        "scope",
        "ip_allowlist_text",
        "drift_ms",
        "weight_per_minute",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "disabled_at",
        "revoked_at",
        "change_record",
    ]
    actions = [
        "disable_keys",
        "enable_keys",
        "revoke_keys",
        "set_market_maker_tier",
        "set_retail_tier",
    ]

    @admin.display(description="IP allow-list")
    def allowlist(self, obj: ApiKey) -> str:
        return ", ".join(obj.ip_allowlist) or "(any: read only)"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a secret must be shown to its owner once; see createapikey

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row is the audit trail

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        services.apikey_update(
            api_key=obj,
            label=data["label"],
            scope=data["scope"],
            ip_allowlist=data["ip_allowlist"],
            drift_ms=data["drift_ms"],
            weight_per_minute=data["weight_per_minute"],
            **change_author(request),
        )

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[ApiKey],
        change: Callable[..., object],
        done: str,
    ) -> None:
        """Apply ``change`` (a service call, given the key and who makes the
        change) to each key, log each success in the key's history as
        ``done``, and report refusals without stopping."""
        changed = 0
        for api_key in queryset.order_by("pk"):
            try:
                change(api_key, **change_author(request))
            except DomainError as exc:
                self.message_user(
                    request, f"{api_key}: {exc.code} {exc.message}", messages.ERROR
                )
                continue
            self.log_change(request, api_key, done)
            changed += 1
        self.message_user(request, f"{done}: {changed} key(s).", messages.SUCCESS)

    @admin.action(description="Disable selected API keys (reversible)")
    def disable_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(
            request,
            queryset,
            lambda k, **who: services.apikey_disable(api_key=k, **who),
            "Disabled the key",
        )

    @admin.action(description="Enable selected API keys")
    def enable_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(
            request,
            queryset,
            lambda k, **who: services.apikey_enable(api_key=k, **who),
            "Enabled the key",
        )

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(
            request,
            queryset,
            lambda k, **who: services.apikey_revoke(api_key=k, **who),
            "Revoked the key",
        )

    @admin.action(description="Set market-maker rate tier (6,000/min)")
    def set_market_maker_tier(
        self, request: HttpRequest, queryset: QuerySet[ApiKey]
    ) -> None:
        self._set_weight(request, queryset, MARKET_MAKER_WEIGHT_PER_MINUTE)

    @admin.action(description="Set retail rate tier (1,200/min)")
    def set_retail_tier(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._set_weight(request, queryset, RETAIL_WEIGHT_PER_MINUTE)

    def _set_weight(
        self, request: HttpRequest, queryset: QuerySet[ApiKey], weight: int
    ) -> None:
        self._each(
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda k, **who: services.apikey_update(
                api_key=k, weight_per_minute=weight, **who
            ),
            f"Set the rate-limit tier to {weight:,}/min",
        )
