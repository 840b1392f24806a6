from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.core.errors import DomainError
from apps.core.money import format_units, parse_units


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [
        ("0.01", 8, 1_000_000),
        ("63000", 6, 63_000_000_000),
        ("1.10000000000", 8, 110_000_000),
        ("0", 2, 0),
        ("12.5", 0, None),
    ],
)
def test_parse_units_is_exact_or_refuses(text, scale, units):
    if units is None:
        with pytest.raises(DomainError) as err:
            parse_units(text, scale, field="size")
        assert err.value.code == "VALIDATION_TOO_MANY_DECIMALS"
    else:
        assert parse_units(text, scale, field="size") == units


@pytest.mark.parametrize(
    "bad",
    ["1e5", "-1", "+1", " 1", "1.", ".5", "", "NaN", "1,5", 1.5, 3, None]
    + ["1\n", "0.01\n", "\u0663", "１"],  # no newline after, ASCII digits only
)
def test_parse_units_rejects_anything_but_plain_decimal_strings(bad):
    with pytest.raises(DomainError) as err:
        parse_units(bad, 8, field="price")
    assert err.value.code == "VALIDATION_INVALID_DECIMAL"


@pytest.mark.parametrize(
    "text",
    ["9" * 20, "9" * 31, "1" + "0" * 4400, "9" * 31 + ".5", "92233720368.54775808"],
)
def test_too_many_digits_is_out_of_range_not_a_bad_decimal(text):
    """However long, a plain decimal is a decimal: beyond BIGINT it is out of
    range (and 4,400 digits do not reach int()'s digit limit as a 500)."""
    with pytest.raises(DomainError) as err:
        parse_units(text, 8, field="size")
    assert err.value.code == "VALIDATION_OUT_OF_RANGE"
    assert err.value.details["field"] == "size"


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0" * 40 + "1", 100_000_000),
        ("92233720368.54775807", 2**63 - 1),
        ("1." + "0" * 100, 100_000_000),
    ],
)
def test_leading_and_trailing_zeros_are_no_digits_too_many(text, units):
    assert parse_units(text, 8, field="size") == units


@pytest.mark.parametrize(
    "units", [0, 1, 99_999_999, 100_000_000, 2_100_000_000_000_000]
)
def test_format_then_parse_round_trips(units):
    assert parse_units(format_units(units, 8), 8, field="x") == units


def test_format_units_pads_and_signs():
    assert format_units(1, 8) == "0.00000001"
    assert format_units(-150, 2) == "-1.50"
    assert format_units(7, 0) == "7"


@given(st.integers(min_value=-(2**70), max_value=2**70), st.integers(0, 30))
def test_format_units_is_the_exact_decimal_of_units_over_ten_to_the_scale(units, scale):
    text = format_units(units, scale)
    assert Decimal(text) == Decimal(units).scaleb(-scale)
    assert len(text.partition(".")[2]) == scale
    assert not text.lstrip("-").startswith("0") or text.lstrip("-")[:2] in ("0", "0.")
