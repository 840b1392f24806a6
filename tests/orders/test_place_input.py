"""The order body's fast path agrees with OrderPlaceInputSerializer on every
input: the same validated data, or the same error (a field error, or one of
StrictInputSerializer's refusals: unknown field, wrong JSON type)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError
from rest_framework.fields import BooleanField, CharField, ChoiceField

from apps.core.api.fields import DecimalString
from apps.core.errors import DomainError
from apps.orders.api.serializers import OrderPlaceInputSerializer, place_input

FIELDS = (
    "pair side type price stop_price size funds time_in_force post_only stp "
    "client_order_id response_type"
).split()
SOME_VALUES = [
    "BTC-USD",
    "buy",
    "sell",
    "limit",
    "market",
    "stop_limit",
    "GTC",
    "FOK",
    "gtc",
    "cancel_both",
    "ack",
    "full",
    "63000.00",
    "0.0100",
    " 0.01",
    "0.01 ",
    "",
    "   ",
    "a\x00b",
    "\ud800",
    "x" * 32,
    "x" * 33,
    "y" * 36,
    "y" * 37,
    "my-order_1",
    "BTC USD",
    "ünïcode-id",
    "\t0.01",
    "0.01\n",
    "\u0663",
    "\u00a00.01",
    None,
    True,
    False,
    0,
    1,
    63000.5,
    "true",
    [],
    {},
]
bodies = st.dictionaries(
    st.sampled_from(FIELDS + ["unknown"]), st.sampled_from(SOME_VALUES), max_size=13
)


def _serializer(data: Any) -> tuple[str, Any]:
    serializer = OrderPlaceInputSerializer(data=data)
    try:
        if serializer.is_valid():
            return "ok", dict(serializer.validated_data)
    except DomainError as exc:
        return "refused", (exc.code, exc.details)
    return "error", serializer.errors


def _fast(data: Any) -> tuple[str, Any]:
    try:
        return "ok", place_input(data)
    except ValidationError as exc:
        return "error", exc.detail
    except DomainError as exc:
        return "refused", (exc.code, exc.details)


@settings(max_examples=600, deadline=None)
@given(
    base=st.fixed_dictionaries(
        {"pair": st.just("BTC-USD"), "side": st.just("buy"), "type": st.just("limit")}
    ),
    extra=bodies,
)
def test_fast_path_matches_the_serializer(base, extra):
    body = {**base, **extra}
    assert _fast(body) == _serializer(body)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        None,
        {},
        {"pair": "BTC-USD", "side": "buy"},
        {"pair": "BTC-USD", "side": "buy", "type": "limit", "post_only": "true"},
        {"pair": "BTC-USD", "side": "buy", "type": "limit", "stp": None},
    ],
)
def test_odd_bodies_match_the_serializer(body):
    assert _fast(body) == _serializer(body)


def test_a_plain_body_takes_the_fast_path(monkeypatch):
    """A valid, plain body never builds the serializer."""

    def refuse(*args, **kwargs):
        raise AssertionError("serializer built")

    body = {
        "pair": "BTC-USD",
        "side": "sell",
        "type": "limit",
        "price": "63000.00",
        "size": "0.0100",
        "client_order_id": "bot-1",
        "post_only": True,
    }
    expected = _serializer(body)[1]
    monkeypatch.setattr(OrderPlaceInputSerializer, "__init__", refuse)
    assert place_input(body) == expected
    assert expected["time_in_force"] == "GTC"
    assert expected["response_type"] == "result"


def test_the_serializer_has_nothing_the_fast_path_would_skip():
    """place_input mirrors these field kinds and options only: a validate(),
    a validator or a field option added to the serializer must come with a
    change to the fast path (and to this test)."""
    serializer = OrderPlaceInputSerializer
    assert not [n for n in vars(serializer) if n.startswith("validate")]
    allowed = {
        "MaxLengthValidator",
        "ProhibitNullCharactersValidator",
        "ProhibitSurrogateCharactersValidator",
    }
    for name, field in serializer().fields.items():
        kind = type(field)
        assert kind in (CharField, DecimalString, ChoiceField, BooleanField), name
        validators = {type(v).__name__ for v in field.validators}
        if kind in (CharField, DecimalString):
            assert field.trim_whitespace and not field.allow_blank, name
            assert field.min_length is None, name
            assert validators <= allowed, name
        else:
            assert validators == set(), name
        if kind is ChoiceField:
            assert not field.allow_blank, name


BASE = {"pair": "BTC-USD", "side": "buy", "type": "limit"}


@pytest.mark.parametrize(
    ("change", "code", "details"),
    [
        (
            {"post_onyl": True},
            "VALIDATION_UNKNOWN_FIELD",
            {"fields": ["post_onyl"], "allowed": FIELDS},
        ),
        (
            {"client_order_id": 123},
            "VALIDATION_INVALID_TYPE",
            {"field": "client_order_id", "expected": "string", "got": "number"},
        ),
        (
            {"post_only": "true"},
            "VALIDATION_INVALID_TYPE",
            {"field": "post_only", "expected": "boolean", "got": "string"},
        ),
        (
            {"post_only": 1},
            "VALIDATION_INVALID_TYPE",
            {"field": "post_only", "expected": "boolean", "got": "number"},
        ),
        (
            {"side": ["buy"]},
            "VALIDATION_INVALID_TYPE",
            {"field": "side", "expected": "string", "got": "array"},
        ),
        ({"price": 63000}, "VALIDATION_INVALID_DECIMAL", {"field": "price"}),
        ({"size": 0.01}, "VALIDATION_INVALID_DECIMAL", {"field": "size"}),
    ],
)
def test_both_paths_refuse_what_is_not_exactly_the_documented_body(
    change, code, details
):
    body = {**BASE, "price": "63000.00", "size": "0.0100", **change}
    assert _fast(body) == _serializer(body) == ("refused", (code, details))


def test_a_body_that_is_not_an_object_is_an_invalid_type():
    assert _fast(["x"]) == (
        "refused",
        ("VALIDATION_INVALID_TYPE", {"expected": "object", "got": "array"}),
    )
