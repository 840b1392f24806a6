"""Fast INSERTs for the matcher's batches and the order path, in raw SQL.

Hand-written because Django's bulk_create instantiates a model and renders
every value through the SQL compiler (~40 us a row), which dominated a batch's
cost; here PostgreSQL gets COPY (psycopg 3) and SQLite an executemany. Values
must already be database-ready (ints, strings, datetimes, JSON as str); no
defaults or signals run, so callers pass every column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model


def db_datetime(value: datetime) -> Any:
    """An aware datetime as the backend stores it, for raw SQL: SQLite keeps
    Django's naive-UTC text (the sqlite3 module's own adapter would append
    an offset, and stored text is compared as text); PostgreSQL takes it as is."""
    if connection.vendor == "sqlite":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def bulk_insert(
    model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY even for a few rows: a multi-row INSERT's text grows with
            # its rows, and psycopg re-parses such a query in Python each time.
            stamps = [i for i, v in enumerate(rows[0]) if _aware(v)]
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                if not stamps:
                    for row in rows:
                        copy.write_row(row)
                    return
                # A batch's rows share their stamp: each distinct datetime is
                # written once as ISO 8601 text (which timestamptz reads
                # exactly), instead of psycopg dumping it again for every
                # row, which was half of COPY's cost per row.
                last: list[Any] = [None] * len(rows[0])
                texts = [""] * len(rows[0])
                for row in rows:
                    values = list(row)
                    for i in stamps:
                        value = values[i]
                        if value is not last[i]:  # a new stamp (or a None)
                            if not _aware(value):
                                continue
                            last[i], texts[i] = value, value.isoformat()
                        values[i] = texts[i]
                    copy.write_row(values)
        else:
            marks = ", ".join(["%s"] * len(columns))
            # Each distinct datetime converted once (rows share their batch's
            # stamp): the backend's conversion per value cost more than the
            # INSERT itself.
            texts: dict[datetime, Any] = {}

            def stored(value: datetime) -> Any:
                text = texts.get(value)
                if text is None:
                    text = texts[value] = db_datetime(value)
                return text

            rows = [
                [stored(v) if isinstance(v, datetime) else v for v in row]
                for row in rows
            ]
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def insert_returning_id(model: type[Model], values: dict[str, Any]) -> int:
    """INSERT one row of database-ready ``values`` and return its id.

    For the order path's hot inserts: a fixed statement psycopg prepares,
    without save()'s per-call SQL compilation; callers pass every column."""
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in values)
    marks = ", ".join(["%s"] * len(values))
    params = [db_datetime(v) if isinstance(v, datetime) else v for v in values.values()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks}) RETURNING id", params
        )
        return int(cursor.fetchone()[0])


def cast_param(model: type[Model], column: str) -> str:
    """``CAST(%s AS <column's type>)``, for a parameter of INSERT ... SELECT,
    which does not infer parameter types as INSERT ... VALUES does.

    Without a length: CAST to varchar(n) would silently truncate, where storing
    into the column refuses a value that is too long."""
    field = next(f for f in model._meta.concrete_fields if f.column == column)
    db_type = re.sub(r"\(\d+\)$", "", field.cast_db_type(connection))
    return f"CAST(%s AS {db_type})"
