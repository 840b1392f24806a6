"""Pure helpers: client address parsing and the signed path."""

from __future__ import annotations

import ipaddress
from io import BytesIO

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory

from apps.apikeys.auth import signed_path, signed_paths
from apps.apikeys.ip import (
    address_allowed,
    change_author,
    client_address,
    parse_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7:8080 ", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("unknown", None),
        ("", None),
        ("999.1.1.1", None),
    ],
)
def test_parse_address(text, expected):
    parsed = parse_address(text)
    assert (str(parsed) if parsed else None) == expected


def test_client_address_without_remote_addr_is_none_and_never_allowed():
    request = RequestFactory().get("/", REMOTE_ADDR="")
    assert client_address(request) is None
    assert not address_allowed(None, ["0.0.0.0/1"])


def test_garbage_in_x_forwarded_for_stops_at_the_last_trusted_hop(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7, bogus, 10.0.0.2"
    )
    assert client_address(request) == ipaddress.ip_address("10.0.0.2")


def test_all_hops_trusted_gives_the_left_most(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.3"
    )
    assert client_address(request) == ipaddress.ip_address("10.0.0.3")


def test_change_author_is_the_user_and_the_address_the_api_would_see(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.9, 198.51.100.4"
    )
    request.user = staff = object()
    assert change_author(request) == {"actor": staff, "ip": "198.51.100.4"}
    request.META["REMOTE_ADDR"] = "unknown"
    assert change_author(request) == {"actor": staff, "ip": None}


def _asgi_request(raw_path: bytes, path: str, query: bytes = b"") -> ASGIRequest:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": [],
    }
    return ASGIRequest(scope, BytesIO())


def test_signed_paths_under_asgi_are_the_raw_path_then_the_canonical_ones():
    request = _asgi_request(
        b"/v1/ticker/BTC%2DUSD", "/v1/ticker/BTC-USD", b"depth=5&x=%C3%A9"
    )
    assert signed_path(request) == "/v1/ticker/BTC%2DUSD?depth=5&x=%C3%A9"
    assert signed_paths(request) == (
        "/v1/ticker/BTC%2DUSD?depth=5&x=%C3%A9",
        "/v1/ticker/BTC-USD?depth=5&x=%C3%A9",
    )


def test_signed_paths_of_a_client_ref_are_as_sent_and_both_canonical_spellings():
    request = _asgi_request(
        b"/v1/orders/client%3aab/cancel", "/v1/orders/client:ab/cancel"
    )
    assert signed_paths(request) == (
        "/v1/orders/client%3aab/cancel",
        "/v1/orders/client:ab/cancel",
        "/v1/orders/client%3Aab/cancel",
    )


def test_signed_paths_under_wsgi_without_the_raw_uri_are_the_canonical_spellings():
    # granian's WSGI interface and wsgiref pass only the decoded PATH_INFO.
    request = RequestFactory().get("/v1/x%20y/caf%C3%A9/client%3Aab?b=2&a=1")
    assert signed_path(request) == "/v1/x%20y/caf%C3%A9/client:ab?b=2&a=1"
    assert signed_paths(request) == (
        "/v1/x%20y/caf%C3%A9/client:ab?b=2&a=1",
        "/v1/x%20y/caf%C3%A9/client%3Aab?b=2&a=1",
    )
    assert signed_paths(RequestFactory().get("/v1/time")) == ("/v1/time",)


@pytest.mark.parametrize("name", ["RAW_URI", "REQUEST_URI"])
def test_signed_paths_under_wsgi_start_with_the_raw_uri_when_the_server_gives_it(name):
    request = RequestFactory().get(
        "/v1/orders/client:ab?b=2", **{name: "/v1/orders/client%3aab?b=2"}
    )
    assert signed_paths(request) == (
        "/v1/orders/client%3aab?b=2",
        "/v1/orders/client:ab?b=2",
        "/v1/orders/client%3Aab?b=2",
    )
