"""Writes of API keys: create (the secret shown once), update, revoke, and
staff's disable / enable; each change recorded (ApiKeyChange) with who made
it and from where."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.apikeys.crypto import encrypt_secret
from apps.apikeys.ip import clean_allowlist
from apps.apikeys.models import (
    MARKET_MAKER_WEIGHT_PER_MINUTE,
    MAX_DRIFT_MS,
    MIN_DRIFT_MS,
    RETAIL_WEIGHT_PER_MINUTE,
    SCOPE_RANK,
    ApiKey,
    ApiKeyChange,
    Scope,
)
from apps.apikeys.selectors import apikey_forget_cached
from apps.core.errors import ValidationFailed
from exchange.client import signing

MAX_LABEL_LENGTH = 64
MAX_WEIGHT_PER_MINUTE = 1_000_000


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"fields": {field: [message]}})


def clean_scope(scope: str | list[str] | tuple[str, ...]) -> Scope:
    """One scope; a list of scopes means the highest of them (scopes nest:
    withdraw implies trade implies read)."""
    names = [scope] if isinstance(scope, str) else list(scope)
    names = [name.strip().lower() for name in names if str(name).strip()]
    if not names:
        raise _invalid("scope", "Give a scope: read, trade or withdraw.")
    try:
        scopes = [Scope(name) for name in names]
    except ValueError:
        raise _invalid(
            "scope", f"Unknown scope in {names}; use read, trade or withdraw."
        ) from None
    return max(scopes, key=lambda s: SCOPE_RANK[s])


def _clean_drift(drift_ms: Any) -> int:
    if isinstance(drift_ms, bool) or not isinstance(drift_ms, int):
        raise _invalid("drift_ms", "drift_ms must be an integer number of ms.")
    if not MIN_DRIFT_MS <= drift_ms <= MAX_DRIFT_MS:
        raise _invalid(
            "drift_ms", f"drift_ms must be between {MIN_DRIFT_MS} and {MAX_DRIFT_MS}."
        )
    return drift_ms


def _clean_weight(weight: Any) -> int:
    if weight is None:
        return RETAIL_WEIGHT_PER_MINUTE
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise _invalid("weight_per_minute", "weight_per_minute must be an integer.")
    if not 1 <= weight <= MAX_WEIGHT_PER_MINUTE:
        raise _invalid(
            "weight_per_minute",
            f"weight_per_minute must be between 1 and {MAX_WEIGHT_PER_MINUTE}.",
        )
    return weight


def _clean_label(label: Any) -> str:
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
        raise _invalid("label", f"label must be text of at most {MAX_LABEL_LENGTH}.")
    return label.strip()


def check_allowlist_for_scope(scope: Scope, allowlist: list[str]) -> None:
    if scope != Scope.READ and not allowlist:
        raise _invalid(
            "ip_allowlist",
            f"A {scope.value} key needs an IP allow-list (addresses or CIDR "
            "networks); only read keys may be used from any address.",
        )


def _forget_on_commit(key: str) -> None:
    # Now, for this process's next request, and after commit, so that a request
    # racing the transaction cannot re-cache the old row for the whole TTL.
    apikey_forget_cached(key=key)
    transaction.on_commit(lambda: apikey_forget_cached(key=key))


_AUDITED = ("scope", "ip_allowlist", "drift_ms", "label", "weight_per_minute")


def _record(
    row: ApiKey, action: str, *, actor: Any, ip: str | None, changes: dict
) -> None:
    """One ApiKeyChange row for ``row``; ``actor`` None means the system (a
    command, a test), staff means someone other than the owner with is_staff."""
    ApiKeyChange.objects.create(
        api_key=row,
        action=action,
        actor=actor,
        by_staff=bool(
            actor is not None
            and getattr(actor, "is_staff", False)
            and actor.pk != row.user_id
        ),
        ip=ip or None,
        changes=changes,
    )


def new_key_id() -> str:
    """``hkt_test_`` (sandbox) or ``hkt_live_`` (production) + 32 hex: the
    prefix says which exchange the key signs for (docs/signing.md, "Keys")."""
    return signing.KEY_PREFIXES[settings.EXCHANGE_ENV] + secrets.token_hex(16)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def apikey_create(
    *,
    user: Any,
    scope: str | list[str] | tuple[str, ...],
    ip_allowlist: list[str] | None,
    drift_ms: int = 5_000,
    label: str = "",
    weight_per_minute: int | None = None,
    actor: Any = None,
    ip: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``user``; returns ``(api_key, secret)``.

    The secret is returned only here and is stored Fernet-encrypted: show it to
    the user once. Trade and withdraw keys need a non-empty ``ip_allowlist``.
    ``weight_per_minute`` None means the retail tier (1,200). ``actor`` (the
    user making the change, None for the system) and ``ip`` (their address)
    go into the key's change record. Locks nothing.
    """
    clean = clean_scope(scope)
    allowlist = clean_allowlist(ip_allowlist)
    check_allowlist_for_scope(clean, allowlist)
    secret = new_secret()
    api_key = ApiKey.objects.create(
        user=user,
        key=new_key_id(),
        secret_encrypted=encrypt_secret(secret),
        label=_clean_label(label),
        scope=clean.value,
        ip_allowlist=allowlist,
        drift_ms=_clean_drift(drift_ms),
        weight_per_minute=_clean_weight(weight_per_minute),
    )
    _record(
        api_key,
        ApiKeyChange.Action.CREATED,
        actor=actor,
        ip=ip,
        changes={name: getattr(api_key, name) for name in _AUDITED},
    )
    _forget_on_commit(api_key.key)  # a cached miss for this id, however unlikely
    return api_key, secret


@transaction.atomic
def apikey_update(
    *,
    api_key: ApiKey,
    scope: str | list[str] | tuple[str, ...] = UNSET,
    ip_allowlist: list[str] | None = UNSET,
    drift_ms: int = UNSET,
    label: str = UNSET,
    weight_per_minute: int | None = UNSET,
    actor: Any = None,
    ip: str | None = None,
) -> ApiKey:
    """Change the given settings of a live key; returns the fresh row.

    Locks the key's row (SELECT ... FOR UPDATE). The scope and allow-list rule
    of ``apikey_create`` holds for the result. A revoked key cannot change.
    What actually changed is recorded (nothing is recorded for no change).
    """
    row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    before = {name: getattr(row, name) for name in _AUDITED}
    if row.revoked_at is not None:
        raise ValidationFailed("A revoked key cannot be changed.")
    if scope is not UNSET:
        row.scope = clean_scope(scope).value
    if ip_allowlist is not UNSET:
        row.ip_allowlist = clean_allowlist(ip_allowlist)
    if drift_ms is not UNSET:
        row.drift_ms = _clean_drift(drift_ms)
    if label is not UNSET:
        row.label = _clean_label(label)
    if weight_per_minute is not UNSET:
        row.weight_per_minute = _clean_weight(weight_per_minute)
    check_allowlist_for_scope(Scope(row.scope), list(row.ip_allowlist))
    row.save(
        update_fields=[
            "scope",
            "ip_allowlist",
            "drift_ms",
            "label",
            "weight_per_minute",
        ]
    )
    changed = {
        name: getattr(row, name)
        for name in _AUDITED
        if getattr(row, name) != before[name]
    }
    if changed:
        _record(row, ApiKeyChange.Action.UPDATED, actor=actor, ip=ip, changes=changed)
    _forget_on_commit(row.key)
    return row


@transaction.atomic
def apikey_revoke(
    *, api_key: ApiKey, actor: Any = None, ip: str | None = None
) -> ApiKey:
    """Revoke the key now (idempotent: a revoked key keeps its first time,
    and its one change record).

    Locks the key's row. Its next request is answered AUTH_KEY_REVOKED.
    """
    row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        _record(row, ApiKeyChange.Action.REVOKED, actor=actor, ip=ip, changes={})
    _forget_on_commit(row.key)
    return row


@transaction.atomic
def apikey_disable(
    *, api_key: ApiKey, actor: Any = None, ip: str | None = None
) -> ApiKey:
    """Suspend the key (staff; idempotent: a disabled key keeps its first
    time). Unlike a revocation it can be undone (``apikey_enable``).

    Locks the key's row. Its next request is answered AUTH_KEY_DISABLED, and
    its WebSocket sessions end within ``WS_KEY_CHECK_MS`` (the key watcher).
    A revoked key cannot be disabled: it is already dead for good."""
    row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if row.revoked_at is not None:
        raise ValidationFailed("A revoked key cannot be disabled.")
    if row.disabled_at is None:
        row.disabled_at = timezone.now()
        row.save(update_fields=["disabled_at"])
        _record(row, ApiKeyChange.Action.DISABLED, actor=actor, ip=ip, changes={})
    _forget_on_commit(row.key)
    return row


@transaction.atomic
def apikey_enable(
    *, api_key: ApiKey, actor: Any = None, ip: str | None = None
) -> ApiKey:
    """Lift a staff disable (idempotent). Locks the key's row. Sessions that
    the disable ended stay ended: the holder signs in again."""
    row = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if row.revoked_at is not None:
        raise ValidationFailed("A revoked key cannot be enabled.")
    if row.disabled_at is not None:
        row.disabled_at = None
        row.save(update_fields=["disabled_at"])
        _record(row, ApiKeyChange.Action.ENABLED, actor=actor, ip=ip, changes={})
    _forget_on_commit(row.key)
    return row


@transaction.atomic
def apikey_revoke_all(*, user: Any, actor: Any = None, ip: str | None = None) -> int:
    """Revoke every live key of ``user`` (e.g. when the account is closed);
    returns how many. Locks those rows."""
    rows = list(
        ApiKey.objects.select_for_update()
        .filter(user=user, revoked_at__isnull=True)
        .order_by("pk")
    )
    now = timezone.now()
    for row in rows:
        row.revoked_at = now
        row.save(update_fields=["revoked_at"])
        _record(row, ApiKeyChange.Action.REVOKED, actor=actor, ip=ip, changes={})
        _forget_on_commit(row.key)
    return len(rows)


@transaction.atomic
def apikeys_follow_market_maker_tier(
    *, user: Any, market_maker: bool, actor: Any = None, ip: str | None = None
) -> int:
    """Move the user's live keys to the market-maker rate tier (6,000/min)
    when their account becomes a market maker, and back to retail (1,200/min)
    when it stops being one; a key whose budget staff set to another figure
    keeps it. Each change is recorded like any other. Returns how many keys
    changed. Locks those keys' rows (through ``apikey_update``)."""
    old, new = (
        (RETAIL_WEIGHT_PER_MINUTE, MARKET_MAKER_WEIGHT_PER_MINUTE)
        if market_maker
        else (MARKET_MAKER_WEIGHT_PER_MINUTE, RETAIL_WEIGHT_PER_MINUTE)
    )
    rows = ApiKey.objects.filter(
        user=user, revoked_at__isnull=True, weight_per_minute=old
    ).order_by("pk")
    changed = 0
    for row in rows:
        apikey_update(api_key=row, weight_per_minute=new, actor=actor, ip=ip)
        changed += 1
    return changed
