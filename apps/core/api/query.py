"""Query strings are strict, as bodies are: a parameter given twice, or one
the operation does not take, is refused before the handler reads any.

``?pair=BTC-USD&pair=ETH-USD`` would otherwise mean whichever value the view
happened to read (Django's ``QueryDict.get`` takes the last), which a client
cannot know; ``?limt=5`` would silently answer the default 100. Each has its
own code:

- a parameter given more than once, whatever its values:
  VALIDATION_DUPLICATE_PARAM, ``details = {"param": name}`` (the first one);
- a parameter the operation does not declare: VALIDATION_UNKNOWN_PARAM,
  ``details = {"params": [...unknown], "allowed": [...declared]}``.

An operation declares its parameters as it declares them to drf-spectacular
(``extend_schema(parameters=...)``): query serializers (their field names)
and ``OpenApiParameter``s (their names) or plain names; a test checks that
the two lists agree for every operation. No /v1 operation takes a list as
repeated parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from apps.core.errors import DomainError, ErrorCode


def param_names(declared: Iterable[Any]) -> tuple[str, ...]:
    """The query parameter names of ``declared``: serializer classes (or
    instances) give their fields, ``OpenApiParameter``s their name, strings
    themselves."""
    names: list[str] = []
    for item in declared:
        if isinstance(item, type) and issubclass(item, serializers.Serializer):
            names += list(item().fields)
        elif isinstance(item, serializers.Serializer):
            names += list(item.fields)
        elif isinstance(item, OpenApiParameter):
            names.append(item.name)
        else:
            names.append(str(item))
    return tuple(dict.fromkeys(names))


def check_query(query: QueryDict, allowed: Iterable[str]) -> None:
    """Raise the first refusal of the module docstring for ``query``, given
    the operation's ``allowed`` names; return when none applies."""
    for name, values in query.lists():
        if len(values) > 1:
            raise DomainError(
                f"The query parameter {name[:64]!r} is given {len(values)} times; "
                "give it once.",
                code=ErrorCode.VALIDATION_DUPLICATE_PARAM,
                details={"param": name[:64]},
            )
    allowed = list(allowed)
    unknown = [name[:64] for name in query if name not in allowed][:20]
    if unknown:
        takes = ", ".join(allowed) if allowed else "none"
        raise DomainError(
            f"Unknown query parameter(s): {', '.join(unknown)}. Allowed: {takes}.",
            code=ErrorCode.VALIDATION_UNKNOWN_PARAM,
            details={"params": unknown, "allowed": allowed},
        )
