"""Expired rows of database caches: Django's DatabaseCache deletes them only
when it culls (past MAX_ENTRIES, which the embedded default sets to 1,000,000
so that culling never forgets a live nonce), and it counts every row on every
write. Each signed request leaves a nonce row behind, so without a purge a
sandbox running for a day holds ~10^6 dead rows and every write pays a full
count. The matcher calls ``cache_purge_expired`` once a minute (Django has no
public call for this; hence the few lines of SQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction

PURGE_CHUNK = 5_000  # rows per statement: a short write lock on SQLite


def cache_purge_expired(*, max_rows: int = 50_000) -> int:
    """Delete up to ``max_rows`` expired rows from every database cache in
    ``settings.CACHES`` (none with Redis); returns how many."""
    purged = 0
    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, DatabaseCache):
            purged += _purge(cache, max_rows - purged)
    return purged


def _purge(cache: DatabaseCache, max_rows: int) -> int:
    db = router.db_for_write(cache.cache_model_class)
    connection = connections[db]
    table = connection.ops.quote_name(cache._table)
    # As DatabaseCache stores ``expires``: whole seconds, adapted by the backend.
    now = datetime.now(tz=UTC if settings.USE_TZ else None).replace(microsecond=0)
    expires = connection.ops.adapt_datetimefield_value(now)
    key = connection.ops.quote_name("cache_key")
    purged = 0
    while purged < max_rows:
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                "WHERE expires < %s LIMIT %s)",
                [expires, min(PURGE_CHUNK, max_rows - purged)],
            )
            deleted = cursor.rowcount
        purged += deleted
        if deleted < PURGE_CHUNK:
            break
    return purged
