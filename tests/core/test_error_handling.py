"""The one error shape, for every kind of failure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apps.core.errors import ErrorCode

TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
@pytest.mark.urls("tests.core.urls_boom")
def test_an_unexpected_exception_is_a_500_with_the_error_shape(client):
    response = client.get("/v1/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["retryable"]) == ("SYSTEM_INTERNAL_ERROR", True)
    assert "a bug" not in response.content.decode()  # no internals leak
    assert error["request_id"] == response["X-Request-Id"]


@pytest.mark.django_db
def test_wrong_method_is_405_method_not_allowed(client):
    response = client.delete("/v1/markets")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.django_db
def test_a_client_request_id_is_echoed_only_when_well_formed(client):
    assert (
        client.get("/v1/health", HTTP_X_REQUEST_ID="abc-12345")["X-Request-Id"]
        == "abc-12345"
    )
    assert (
        client.get("/v1/health", HTTP_X_REQUEST_ID="bad id\r\nx")["X-Request-Id"]
        != "bad id"
    )


def test_every_error_code_is_asserted_by_some_test():
    """Each code of the registry appears, quoted, in a test module (this
    function quotes none itself): a code no test asserts is dead or untested."""
    quoted: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        quoted |= set(re.findall(r'"([A-Z][A-Z_]+)"', path.read_text()))
    assert sorted(c.value for c in ErrorCode if c.value not in quoted) == []
