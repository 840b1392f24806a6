"""System checks for the settings the API-key security relies on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# Nonces and rate counters live in the default cache; a cache that evicts live
# entries would let a nonce be replayed or a budget reset.
MIN_DATABASE_CACHE_ENTRIES = 100_000


@checks.register(checks.Tags.security)
def check_security_settings(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    from apps.apikeys.crypto import fernet
    from apps.apikeys.ip import trusted_proxies

    found: list[checks.CheckMessage] = []
    for check, hint in (
        (fernet, "API_SECRET_ENCRYPTION_KEY"),
        (trusted_proxies, "TRUSTED_PROXIES"),
    ):
        try:
            check()
        except ImproperlyConfigured as exc:
            found.append(checks.Error(str(exc), hint=f"Fix {hint}.", id="apikeys.E001"))
    cache = settings.CACHES.get("default", {})
    backend = cache.get("BACKEND", "")
    if backend.endswith("LocMemCache") or backend.endswith("DummyCache"):
        found.append(
            checks.Warning(
                "The default cache is not shared between processes: nonce replay "
                "protection and rate limits hold per process only.",
                hint="Use Redis (REDIS_URL) or the database cache.",
                id="apikeys.W001",
            )
        )
    if backend.endswith("DatabaseCache"):
        max_entries = int(cache.get("OPTIONS", {}).get("MAX_ENTRIES", 300))
        if max_entries < MIN_DATABASE_CACHE_ENTRIES:
            found.append(
                checks.Warning(
                    f"The database cache culls at {max_entries} entries, which can "
                    "evict live nonces (replays) and rate counters.",
                    hint=f"Set CACHES['default']['OPTIONS']['MAX_ENTRIES'] >= "
                    f"{MIN_DATABASE_CACHE_ENTRIES}.",
                    id="apikeys.W002",
                )
            )
    return found
