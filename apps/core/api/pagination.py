"""Keyset pagination by primary key, newest first (stable under inserts,
unlike offsets): a page plus the cursor of the next one."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet


def page_by_id(queryset: QuerySet[Any], limit: int) -> tuple[list[Any], str | None]:
    """The first ``limit`` rows of ``queryset`` (ordered by -pk and already
    filtered by the previous cursor) and the next cursor, or None at the end."""
    rows = list(queryset[: limit + 1])
    page = rows[:limit]
    return page, (str(page[-1].pk) if len(rows) > limit else None)
