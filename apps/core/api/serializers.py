"""The base of every JSON body's input serializer: strict, predictable input.

A bot should learn of a typo at once, not after a fill. DRF by itself ignores
fields it does not know (``"post_onyl": true`` would place a taker order),
turns ``123`` into ``"123"`` and takes ``"yes"`` or ``1`` for ``true``. A
serializer that subclasses :class:`StrictInputSerializer` refuses instead,
before any field is validated, each with its own code:

- a key the serializer has no field for: VALIDATION_UNKNOWN_FIELD, with
  ``details = {"fields": [...unknown], "allowed": [...its fields]}``;
- a body that is not a JSON object: VALIDATION_INVALID_TYPE, ``details =
  {"expected": "object", "got": ...}``;
- a value of the wrong JSON type: VALIDATION_INVALID_TYPE, ``details =
  {"field", "expected", "got"}`` (a CharField or ChoiceField takes a string,
  a BooleanField a boolean, an IntegerField an integer);
- an amount (a :class:`~apps.core.api.fields.DecimalString` field) that is
  not a string: VALIDATION_INVALID_DECIMAL, ``details = {"field"}``, as
  ``apps.core.money.parse_units`` refuses it.

``null`` is left to the field (``allow_null``). Nested serializers that
subclass it are checked the same way. These are DomainErrors, raised from
``is_valid()`` whether or not ``raise_exception`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from apps.core.api.fields import DecimalString
from apps.core.errors import DomainError, ErrorCode


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def expected_type(field: serializers.Field) -> str | None:
    """The JSON type ``field`` takes, or None when the field judges it."""
    if isinstance(field, DecimalString):
        return "decimal string"
    if isinstance(field, serializers.MultipleChoiceField):
        return None
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return "string"
    return None


def _has_type(value: Any, expected: str) -> bool:
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)  # "string", "decimal string"


def unknown_fields_error(unknown: list[str], allowed: list[str]) -> DomainError:
    shown = [name[:64] for name in unknown[:20]]
    return DomainError(
        f"Unknown field(s): {', '.join(shown)}. Allowed: {', '.join(allowed)}.",
        code=ErrorCode.VALIDATION_UNKNOWN_FIELD,
        details={"fields": shown, "allowed": allowed},
    )


def check_body(data: Any, fields: Mapping[str, serializers.Field]) -> None:
    """Raise the first of the refusals of the module docstring for ``data``
    against ``fields`` (a serializer's ``fields``); return when none applies."""
    if not isinstance(data, Mapping):
        raise DomainError(
            "The body must be a JSON object.",
            code=ErrorCode.VALIDATION_INVALID_TYPE,
            details={"expected": "object", "got": json_type(data)},
        )
    writable = [name for name, field in fields.items() if not field.read_only]
    unknown = [key for key in data if key not in writable]
    if unknown:
        raise unknown_fields_error(sorted(map(str, unknown)), writable)
    for name in writable:
        value = data.get(name)
        if value is None:
            continue
        expected = expected_type(fields[name])
        if expected is None or _has_type(value, expected):
            continue
        if expected == "decimal string":
            raise DomainError(
                f'{name} must be a decimal string, e.g. "0.01".',
                code=ErrorCode.VALIDATION_INVALID_DECIMAL,
                details={"field": name},
            )
        raise DomainError(
            f"{name} must be a JSON {expected}, not {json_type(value)}.",
            code=ErrorCode.VALIDATION_INVALID_TYPE,
            details={"field": name, "expected": expected, "got": json_type(value)},
        )


class StrictInputSerializer(serializers.Serializer):
    """Subclass this for every request body (see the module docstring); query
    string serializers stay plain ``Serializer``s (every value there is text)."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data is None and not self.allow_null:  # a "null" body, not an object
            check_body(data, self.fields)
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        check_body(data, self.fields)
        return super().to_internal_value(data)
