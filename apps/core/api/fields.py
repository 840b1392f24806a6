"""Serializer fields shared by the endpoints of every app.

Importing this module registers ``NamedChoiceFieldSchema`` with drf-spectacular;
every serializer that uses ``NamedChoiceField`` imports it, so it is registered
before any schema is generated."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers


class DecimalString(serializers.CharField):
    """An amount on the wire, e.g. "63000.010000": always a decimal string,
    never a JSON number (apps.core.money converts it to integer units at the
    edge; a StrictInputSerializer refuses a number as VALIDATION_INVALID_DECIMAL)."""


class NamedChoiceField(serializers.ChoiceField):
    """A ChoiceField documented as ONE named OpenAPI component, whatever the
    field is called. drf-spectacular otherwise names enums after fields, so one
    choice set under several names (wallet / from_wallet, side / taker_side)
    becomes several enums and a schema warning."""

    def __init__(self, *, choices: list[str], component: str, **kwargs: Any) -> None:
        self.component = component
        super().__init__(choices=choices, **kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return self.target.component

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}
