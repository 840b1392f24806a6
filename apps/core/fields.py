"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models


class JSONTextField(models.JSONField):
    """A JSONField kept as PostgreSQL ``json`` (the text as written, checked
    to be JSON) instead of ``jsonb``: COPY into jsonb parses and rebuilds
    every payload, which measured twice the cost of the whole row for an
    order's body, and nothing queries inside these payloads. psycopg reads
    ``json`` already parsed; other databases store text as JSONField does."""

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or isinstance(value, str):
            return super().from_db_value(value, expression, connection)
        return value  # psycopg's json loader parsed it
