"""Fast multi-row INSERT for the matcher's batches.

Hand-written because Django's bulk_create instantiates a model and renders
every value through the SQL compiler (~40 us a row), which dominated a batch's
cost; here PostgreSQL gets COPY (psycopg 3) and SQLite an executemany. Values
must already be database-ready (ints, strings, datetimes, JSON as str); no
defaults or signals run, so callers pass every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

COPY_FROM_ROWS = 64  # below this one multi-row INSERT beats COPY's round trips


def bulk_insert(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) < COPY_FROM_ROWS:
            marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES {', '.join([marks] * len(rows))}",
                [value for row in rows for value in row],
            )
        elif connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
