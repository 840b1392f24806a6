"""How values other than amounts look on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# The last instant a datetime holds, 9999-12-31T23:59:59.999Z: the bound of
# every Unix-ms time parameter.
MAX_UNIX_MS = 253_402_300_799_999


def unix_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime, exactly (no float)."""
    return (moment - _EPOCH) // _MS


def from_unix_ms(value: int) -> datetime:
    return _EPOCH + value * _MS


def iso_utc(moment: datetime, timespec: str = "microseconds") -> str:
    """ISO 8601 in UTC ending in ``Z``, the one form of every timestamp on the
    wire (DRF's DateTimeField writes the same), e.g. 2026-05-01T12:00:00.123456Z.
    Market data uses milliseconds, matching its ``ts`` fields."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
