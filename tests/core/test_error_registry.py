from pathlib import Path

from apps.core.errors import ERRORS, ErrorCode
from apps.core.management.commands.errordocs import render

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = (
    "AUTH_",
    "PERMISSION_",
    "RATE_LIMIT_",
    "VALIDATION_",
    "ORDER_",
    "MARKET_",
    "ACCOUNT_",
    "STREAM_",
    "SYSTEM_",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
)


def test_every_code_has_a_spec_and_a_namespace():
    assert set(ERRORS) == set(ErrorCode)
    for code in ErrorCode:
        assert code.value.startswith(NAMESPACES), code
        assert 400 <= ERRORS[code].status < 600


def test_docs_errors_table_matches_the_registry():
    assert (ROOT / "docs" / "errors.md").read_text() == render()
