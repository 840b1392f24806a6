"""Forms of the account holders' pages. Validation of keys lives in the
apikeys services; these only shape the input."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from apps.accounts.models import Wallet
from apps.apikeys.models import DEFAULT_DRIFT_MS, MAX_DRIFT_MS, MIN_DRIFT_MS, Scope
from apps.orders.models import OrderStatus

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
    """A new key's settings; a withdraw-scoped key also asks for the account
    password again (a stolen session alone must not mint a key that moves
    funds out)."""

    scope = forms.ChoiceField(
        choices=Scope.choices,
        initial=Scope.READ,
        widget=forms.RadioSelect,
        help_text="Trade implies read; withdraw implies trade.",
    )
    password = forms.CharField(
        label="Your password (withdraw keys only)",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="A key that can withdraw needs your password again.",
    )
    field_order = ["label", "scope", "ip_allowlist", "drift_ms", "password"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == Scope.WITHDRAW and not self.user.check_password(
            data.get("password") or ""
        ):
            self.add_error("password", "Enter your password to create a withdraw key.")
        return data


WALLETS = [(w.value, w.label) for w in Wallet]


class TransferForm(forms.Form):
    """Between two of the user's own wallets; the amount is a decimal string
    checked against the asset's scale by the same parser the API uses."""

    asset = forms.ChoiceField(choices=[])
    amount = forms.CharField(max_length=40)
    from_wallet = forms.ChoiceField(choices=WALLETS, initial=Wallet.SPOT)
    to_wallet = forms.ChoiceField(choices=WALLETS, initial=Wallet.MARGIN)

    def __init__(self, *args: Any, assets: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = [(code, code) for code in assets]


ORDER_STATUSES = [
    ("", "any status"),
    ("live", "open (pending, open, partially filled)"),
    *[(s.value, s.label.lower()) for s in OrderStatus],
]


class OrderFilterForm(forms.Form):
    pair = forms.ChoiceField(required=False, choices=[])
    status = forms.ChoiceField(required=False, choices=ORDER_STATUSES)
    side = forms.ChoiceField(
        required=False, choices=[("", "both sides"), ("buy", "buy"), ("sell", "sell")]
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, pairs: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pair"].choices = [("", "all pairs"), *((p, p) for p in pairs)]


class SignUpForm(UserCreationForm):
    """Username and password, checked by Django's own rules (unique username,
    AUTH_PASSWORD_VALIDATORS); the account is made by
    ``apps.accounts.sandbox.account_sign_up``, not by ``save()``."""
