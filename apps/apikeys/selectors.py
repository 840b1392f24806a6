"""Reads of API keys, including the short-lived cache of the key lookup that
every signed request does."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from apps.apikeys.models import ApiKey, ApiKeyChange
from apps.core.errors import NotFound

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
DEFAULT_CACHE_SECONDS = 30
_MISSING = "missing"
# The fields a signed request needs; the cache holds these values, not a
# pickled model, so a deploy that changes the model cannot read stale shapes.
_CACHED_FIELDS = (
    "id",
    "user_id",
    "key",
    "secret_encrypted",
    "label",
    "scope",
    "ip_allowlist",
    "drift_ms",
    "weight_per_minute",
    "created_at",
    "revoked_at",
    "disabled_at",
    "last_used_at",
)


def lookup_cache_key(key: str) -> str:
    return f"apikeys:key:v2:{key}"  # v2: with disabled_at


def _cache_seconds() -> int:
    return int(getattr(settings, "APIKEY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def apikey_get_cached(*, key: str) -> ApiKey | None:
    """The key with id ``key`` (revoked ones included), or None.

    Cached for ``APIKEY_CACHE_SECONDS`` (30 s), misses too; the services
    invalidate the entry when they create, change or revoke a key, so the TTL
    only bounds how stale a change made outside the services can be.
    """
    if not KEY_RE.match(key):
        return None
    entry: Any = _cache_get(lookup_cache_key(key))
    if entry is None:
        row = ApiKey.objects.filter(key=key).values(*_CACHED_FIELDS).first()
        entry = row if row is not None else _MISSING
        _cache_set(lookup_cache_key(key), entry, _cache_seconds())
    if entry == _MISSING:
        return None
    api_key = ApiKey(**entry)
    api_key._state.adding = False
    api_key._state.db = "default"
    return api_key


def _cache_get(name: str) -> Any:
    try:
        return cache.get(name)
    except Exception:  # noqa: BLE001 - the cache is an optimisation: use the DB
        log.warning("api key cache unavailable", exc_info=True)
        return None


def _cache_set(name: str, value: Any, timeout: int) -> None:
    try:
        cache.set(name, value, timeout)
    except Exception:  # noqa: BLE001
        log.warning("api key cache unavailable", exc_info=True)


def apikey_forget_cached(*, key: str) -> None:
    cache.delete(lookup_cache_key(key))


def apikey_list_for_user(*, user: Any) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def apikey_changes_for_user(*, user: Any) -> QuerySet[ApiKeyChange]:
    """Every change to the user's keys (theirs and staff's), newest first."""
    return ApiKeyChange.objects.select_related("api_key", "actor").filter(
        api_key__user=user
    )


def apikey_get_for_user(*, user: Any, key: str) -> ApiKey:
    """The user's key ``key``; NOT_FOUND for another user's or no key."""
    api_key = ApiKey.objects.filter(user=user, key=key).first()
    if api_key is None:
        raise NotFound("No such API key.")
    return api_key


def apikeys_current(*, ids: list[int]) -> dict[int, ApiKey]:
    """The keys among ``ids`` that still work (not revoked, not disabled,
    owner active), read from the database, not the cache: a session re-checks
    its key with this, so a revocation or a staff disable reaches it within
    one period."""
    rows = ApiKey.objects.filter(
        pk__in=ids,
        revoked_at__isnull=True,
        disabled_at__isnull=True,
        user__is_active=True,
    ).only("id", "user_id", "scope", "ip_allowlist", "weight_per_minute")
    return {row.pk: row for row in rows}


def apikeys_disabled(*, ids: list[int]) -> set[int]:
    """The keys among ``ids`` that staff disabled and nobody revoked: why a
    session whose key stopped working ends (AUTH_KEY_DISABLED, else
    AUTH_KEY_REVOKED)."""
    return set(
        ApiKey.objects.filter(
            pk__in=ids, revoked_at__isnull=True, disabled_at__isnull=False
        ).values_list("pk", flat=True)
    )
