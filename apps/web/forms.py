"""Forms of the account holders' pages. Validation of keys lives in the
apikeys services; these only shape the input."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.forms import UserCreationForm

from apps.apikeys.models import DEFAULT_DRIFT_MS, MAX_DRIFT_MS, MIN_DRIFT_MS, Scope

IP_HELP = (
    "One address or CIDR network per line (IPv4 or IPv6), e.g. 203.0.113.7 or "
    "2001:db8::/48. Trade and withdraw keys need at least one; an empty list "
    "means any address, which only read-only keys may have."
)


def split_addresses(text: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", text.strip()) if item]


class ApiKeySettingsForm(forms.Form):
    label = forms.CharField(max_length=64, required=False)
    ip_allowlist = forms.CharField(
        label="IP allow-list",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=IP_HELP,
    )
    drift_ms = forms.IntegerField(
        label="Clock drift tolerance (ms)",
        min_value=MIN_DRIFT_MS,
        max_value=MAX_DRIFT_MS,
        initial=DEFAULT_DRIFT_MS,
        help_text=f"How far X-Api-Timestamp may be from server time: "
        f"{MIN_DRIFT_MS:,}-{MAX_DRIFT_MS:,} ms.",
    )

    def clean_ip_allowlist(self) -> list[str]:
        return split_addresses(self.cleaned_data["ip_allowlist"])


class ApiKeyCreateForm(ApiKeySettingsForm):
    scope = forms.ChoiceField(
        choices=Scope.choices,
        initial=Scope.READ,
        widget=forms.RadioSelect,
        help_text="Trade implies read; withdraw implies trade.",
    )
    field_order = ["label", "scope", "ip_allowlist", "drift_ms"]


class SignUpForm(UserCreationForm):
    """Username and password, checked by Django's own rules (unique username,
    AUTH_PASSWORD_VALIDATORS); the account is made by
    ``apps.accounts.sandbox.account_sign_up``, not by ``save()``."""
