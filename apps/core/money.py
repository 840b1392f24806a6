"""The one place where decimal strings on the wire become integers inside.

Amounts are integer counts of an asset's minor unit (scale = decimals). Parsing
is exact string arithmetic: nothing is rounded, a value that does not fit the
grid is rejected with a clear error. Fee rounding lives in the engine.
"""

from __future__ import annotations

import re

from apps.core.errors import DomainError, ErrorCode

# Amounts are stored as signed 64-bit integers (BIGINT) of minor units.
MAX_UNITS = 2**63 - 1

# Any number of ASCII digits: a value too long to store is out of range, not
# "not a decimal" (the body limit bounds the length). fullmatch: no "\n" after.
_DECIMAL_RE = re.compile(r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?")
# Integer digits past which no scale fits a BIGINT (2^63-1 has 19 digits).
_MAX_INT_DIGITS = len(str(MAX_UNITS))


def parse_units(value: object, scale: int, *, field: str) -> int:
    """Parse a non-negative decimal string into minor units of ``scale`` decimals.

    Raises VALIDATION_INVALID_DECIMAL for anything but plain digits with an
    optional fraction (no sign, exponent, spaces or JSON numbers),
    VALIDATION_TOO_MANY_DECIMALS when non-zero digits pass the scale, and
    VALIDATION_OUT_OF_RANGE past MAX_UNITS.
    """
    if not isinstance(value, str):
        raise DomainError(
            f'{field} must be a decimal string, e.g. "0.01".',
            code=ErrorCode.VALIDATION_INVALID_DECIMAL,
            details={"field": field},
        )
    match = _DECIMAL_RE.fullmatch(value)
    if match is None:
        raise DomainError(
            f"{field} is not a plain decimal string: {value[:40]!r}.",
            code=ErrorCode.VALIDATION_INVALID_DECIMAL,
            details={"field": field},
        )
    digits = match.group("int").lstrip("0")
    if len(digits) > _MAX_INT_DIGITS:  # before int(): 5,000 digits would raise
        check_units(MAX_UNITS + 1, scale, field=field)
    frac = match.group("frac") or ""
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise DomainError(
                f"{field} has more than {scale} decimals.",
                code=ErrorCode.VALIDATION_TOO_MANY_DECIMALS,
                details={"field": field, "max_decimals": scale},
            )
        frac = frac[:scale]
    units = int(digits or "0") * 10**scale + int(frac.ljust(scale, "0") or "0")
    check_units(units, scale, field=field)
    return units


def check_units(units: int, scale: int, *, field: str) -> None:
    """VALIDATION_OUT_OF_RANGE for an amount (or a product of amounts) that
    no BIGINT column could store."""
    if units > MAX_UNITS:
        raise DomainError(
            f"{field} is too large: at most {format_units(MAX_UNITS, scale)}.",
            code=ErrorCode.VALIDATION_OUT_OF_RANGE,
            details={"field": field, "max": format_units(MAX_UNITS, scale)},
        )


def format_units(units: int, scale: int) -> str:
    """Integer minor units -> decimal string with exactly ``scale`` decimals.

    By slicing the integer's digits: every event and body formats several
    amounts, and this is about twice as fast as divmod and a nested format
    spec."""
    if units < 0:
        return "-" + format_units(-units, scale)
    digits = str(units)
    if scale == 0:
        return digits
    if len(digits) <= scale:
        digits = digits.rjust(scale + 1, "0")
    return f"{digits[:-scale]}.{digits[-scale:]}"
