"""Account holders' pages: sign-up and API keys, thin views over the
accounts and apikeys services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Tier
from apps.accounts.sandbox import account_sign_up
from apps.accounts.selectors import account_tier_get
from apps.apikeys.ip import change_author
from apps.apikeys.models import MARKET_MAKER_WEIGHT_PER_MINUTE, ApiKey
from apps.apikeys.selectors import (
    apikey_changes_for_user,
    apikey_get_for_user,
    apikey_list_for_user,
)
from apps.apikeys.services import apikey_create, apikey_revoke, apikey_update
from apps.core.errors import DomainError
from apps.core.money import format_units
from apps.web.forms import ApiKeyCreateForm, ApiKeySettingsForm, SignUpForm


def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up (SIGNUP_ENABLED: on in the sandbox, off by default in
    production); in the sandbox the new account is funded like the demo one.
    Signs the new user in and sends them to their API keys."""
    if not settings.SIGNUP_ENABLED:
        raise Http404("Sign-up is closed.")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, credited = account_sign_up(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except IntegrityError:  # the same name, signed up a moment ago
            form.add_error("username", "A user with that username already exists.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if credited:
                funds = ", ".join(
                    f"{format_units(amount, asset.scale)} {asset.code}"
                    for asset, amount in credited
                )
                messages.success(request, f"Your sandbox account holds {funds}.")
            return redirect("web:api-keys")
    sandbox = settings.EXCHANGE_ENV == "sandbox"
    return render(
        request, "registration/signup.html", {"form": form, "sandbox": sandbox}
    )


def _tier_weight(user: Any) -> int | None:
    """A market maker's new keys start on the market-maker rate tier (the
    account's tier drives it: ``account_set_tier``); None is retail."""
    if account_tier_get(user_id=user.pk) == Tier.MARKET_MAKER:
        return MARKET_MAKER_WEIGHT_PER_MINUTE
    return None


def _own_key(request: HttpRequest, key: str) -> ApiKey:
    try:
        return apikey_get_for_user(user=request.user, key=key)
    except DomainError as exc:
        raise Http404("No such API key.") from exc


def _form_error(form: Any, exc: DomainError) -> None:
    """Show a service's refusal on the form, beside its field when it names one."""
    fields = exc.details.get("fields") or {}
    for name, errors in fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error)
    if not fields:
        form.add_error(None, exc.message)


@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    """List the user's keys and their change history; POST creates one and
    shows its secret once (never cached, never shown again)."""
    form = ApiKeyCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            api_key, secret = apikey_create(
                user=request.user,
                scope=data["scope"],
                ip_allowlist=data["ip_allowlist"],
                drift_ms=data["drift_ms"],
                label=data["label"],
                weight_per_minute=_tier_weight(request.user),
                **change_author(request),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            response = render(
                request,
                "web/api_key_created.html",
                {
                    "api_key": api_key,
                    "secret": secret,
                    "base_url": request.build_absolute_uri("/").rstrip("/"),
                },
            )
            response["Cache-Control"] = "no-store"
            return response
    keys = apikey_list_for_user(user=request.user)
    changes = apikey_changes_for_user(user=request.user)[:50]
    return render(
        request,
        "web/api_keys.html",
        {"form": form, "keys": keys, "changes": changes},
    )


@login_required
def api_key_edit(request: HttpRequest, key: str) -> HttpResponse:
    api_key = _own_key(request, key)
    initial = {
        "label": api_key.label,
        "drift_ms": api_key.drift_ms,
        "ip_allowlist": "\n".join(api_key.ip_allowlist),
    }
    form = ApiKeySettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and api_key.revoked_at is None:
        data = form.cleaned_data
        try:
            apikey_update(
                api_key=api_key,
                ip_allowlist=data["ip_allowlist"],
                drift_ms=data["drift_ms"],
                label=data["label"],
                **change_author(request),
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Saved {api_key.key}.")
            return redirect("web:api-keys")
    return render(request, "web/api_key_edit.html", {"form": form, "api_key": api_key})


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key: str) -> HttpResponse:
    api_key = apikey_revoke(api_key=_own_key(request, key), **change_author(request))
    messages.success(request, f"Revoked {api_key.key}; its next request is refused.")
    return redirect("web:api-keys")
