"""Request bodies: the size limit and the JSON parser.

A body is refused, each with its own code, when it is over
``settings.API_MAX_BODY_BYTES`` (413 VALIDATION_BODY_TOO_LARGE), not JSON
(VALIDATION_MALFORMED_JSON) or repeats a key in an object
(VALIDATION_DUPLICATE_KEY: ``{"size": "1", "size": "100"}`` would otherwise
mean whichever the parser kept, which a client cannot know).
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from apps.core.errors import DomainError, ErrorCode

DEFAULT_MAX_BODY_BYTES = 64 * 1024


def max_body_bytes() -> int:
    """The documented body limit (bytes): ``API_MAX_BODY_BYTES``, 64 KiB by
    default (the WebSocket frame limit's size), or Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE when an operator set that lower."""
    limit = int(getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    django_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit if django_limit is None else min(limit, int(django_limit))


def body_too_large(limit: int) -> DomainError:
    return DomainError(
        f"The body is over {limit} bytes.",
        code=ErrorCode.VALIDATION_BODY_TOO_LARGE,
        details={"max_bytes": limit},
    )


def check_body_size(request: HttpRequest) -> None:
    """413 VALIDATION_BODY_TOO_LARGE for a body over the limit, judged by the
    declared Content-Length before anything is read, then by the bytes
    themselves (a chunked body declares none). Runs before the signature is
    checked, so an oversized body is never hashed."""
    limit = max_body_bytes()
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise body_too_large(limit)
    try:
        size = len(request.body)
    except RequestDataTooBig:  # past Django's own DATA_UPLOAD_MAX_MEMORY_SIZE
        raise body_too_large(limit) from None
    if size > limit:
        raise body_too_large(limit)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: a dict, or VALIDATION_DUPLICATE_KEY."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise DomainError(
                    f"The key {key[:64]!r} appears twice in one object.",
                    code=ErrorCode.VALIDATION_DUPLICATE_KEY,
                    details={"key": key[:64]},
                )
            seen.add(key)
    return obj


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that refuses repeated keys (VALIDATION_DUPLICATE_KEY)
    and NaN/Infinity; ValueError for anything else that is not JSON."""
    return json.loads(
        text, object_pairs_hook=_refuse_duplicates, parse_constant=_no_constant
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, plus: a repeated key in an object is
    VALIDATION_DUPLICATE_KEY, and a body nested too deeply for the decoder
    (e.g. 100,000 ``[``) is malformed JSON (400), not a RecursionError (500)."""

    def parse(
        self, stream: Any, media_type: Any = None, parser_context: Any = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads_strict(codecs.getreader(encoding)(stream).read())
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
