"""HMAC request authentication (docs/signing.md).

Checks, in this order, each failure with its own code:

1. the four headers are present ............ AUTH_MISSING_HEADERS
2. the key id's environment prefix is this server's, then the key exists
   and is neither revoked nor disabled .... AUTH_KEY_WRONG_ENVIRONMENT,
                                            AUTH_INVALID_KEY, AUTH_KEY_REVOKED,
                                            AUTH_KEY_DISABLED
3. the timestamp is Unix ms within the key's drift tolerance of server time
   ........................................ AUTH_INVALID_TIMESTAMP,
                                            AUTH_TIMESTAMP_EXPIRED / _IN_FUTURE
4. the signature matches (constant time) over the path as sent or either
   canonical spelling of it (signed_paths) .. AUTH_INVALID_SIGNATURE
5. the nonce is well-formed and unused by this key within the window
   ........................................ AUTH_INVALID_NONCE, AUTH_NONCE_REUSED

The nonce is recorded only after the signature is verified, so nobody but the
key's holder can burn its nonces. The prehash is computed by
``exchange.client.signing``, the same code the clients use, with the signing
domain of this server's ``EXCHANGE_ENV`` (a client derives it from the key's
prefix), so a sandbox signature is worthless in production and the reverse.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from django.utils.functional import SimpleLazyObject
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.apikeys import errors
from apps.apikeys.crypto import decrypt_secret
from apps.apikeys.ip import address_from, client_address
from apps.apikeys.models import MAX_DRIFT_MS, ApiKey
from apps.apikeys.permissions import check_ip_address, check_scope
from apps.apikeys.selectors import apikey_get_cached
from apps.core import middleware
from apps.core.errors import DomainError, ErrorCode, ValidationFailed
from exchange.client import signing

log = logging.getLogger(__name__)

AUTH_SCHEME = "HKT-HMAC-SHA256"
_HEADER_META = {
    name: "HTTP_" + name.upper().replace("-", "_") for name in signing.SIGNING_HEADERS
}
MAX_TIMESTAMP_DIGITS = 16
LAST_USED_EVERY_S = 60


def now_ms() -> int:
    """Server time. The one clock of X-Server-Time, so tests can move both
    (they patch ``apps.core.middleware.now_ms``, looked up at each call)."""
    return middleware.now_ms()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the signature covers, independent of the transport."""

    key: str
    timestamp: str
    nonce: str
    signature: str
    method: str
    path: str  # path plus "?query" exactly as sent, or its minimal spelling
    body: bytes
    # Other spellings of the same path the signature may cover (signed_paths).
    other_paths: tuple[str, ...] = ()


# Where a WSGI server puts the request target exactly as sent: gunicorn's
# RAW_URI; uWSGI's, mod_wsgi's and waitress's REQUEST_URI. granian's WSGI
# interface (REST in production) and wsgiref (runserver, the tests' live
# server) have neither: they pass only the decoded PATH_INFO.
_RAW_URI_KEYS = ("RAW_URI", "REQUEST_URI")


def raw_path(request: HttpRequest) -> str | None:
    """The path exactly as the client sent it, percent-encoding included, when
    the server passes it on (ASGI ``raw_path``, WSGI ``RAW_URI`` or
    ``REQUEST_URI``); None when it only passes the decoded path."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        raw = scope.get("raw_path")
        return raw.split(b"?", 1)[0].decode("latin-1") if raw else None
    for name in _RAW_URI_KEYS:
        uri = request.META.get(name)
        if isinstance(uri, str) and uri.startswith("/"):
            return uri.split("?", 1)[0]
    return None


def canonical_paths(path: str) -> tuple[str, str]:
    """The two canonical spellings of a decoded path: percent-encoding only
    what must be (``/v1/orders/client:abc/cancel``, as httpx, curl and our
    client send it), and everything outside RFC 3986's unreserved characters
    with upper-case hex (``/v1/orders/client%3Aabc/cancel``, as generated
    OpenAPI clients send a path parameter)."""
    full = "/".join(quote(segment, safe="") for segment in path.split("/"))
    return escape_uri_path(path), full


def signed_paths(request: HttpRequest) -> tuple[str, ...]:
    """The path-and-query lines a signature on ``request`` may cover, the one
    shown in errors first: the path exactly as sent when the server passes it
    on, then the two canonical spellings of the decoded path (a server that
    decodes it, like granian's WSGI, can only check those; every server
    accepts them, so a client behaves the same on all of them). Spellings of
    one path name the same resource, so accepting either weakens nothing; the
    query string is always the raw one (every server passes it as sent)."""
    query = request.META.get("QUERY_STRING", "")
    raw = raw_path(request)
    paths = dict.fromkeys(([raw] if raw else []) + list(canonical_paths(request.path)))
    return tuple(f"{path}?{query}" if query else path for path in paths)


def signed_path(request: HttpRequest) -> str:
    """The path and query string as the client sent them, or, when the server
    does not pass the raw path on, their minimal spelling."""
    return signed_paths(request)[0]


def signed_request_from_http(request: HttpRequest) -> SignedRequest:
    """Collect the signing headers and the raw body; AUTH_MISSING_HEADERS if
    any header is absent or empty."""
    values = {
        name: request.META.get(meta, "").strip() for name, meta in _HEADER_META.items()
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise errors.MissingHeaders(
            f"Missing signing header(s): {', '.join(missing)}.",
            details={"missing": missing},
        )
    try:
        body = request.body
    except RequestDataTooBig:
        raise ValidationFailed("The request body is too large.") from None
    paths = signed_paths(request)
    return SignedRequest(
        key=values[signing.HEADER_KEY],
        timestamp=values[signing.HEADER_TIMESTAMP],
        nonce=values[signing.HEADER_NONCE],
        signature=values[signing.HEADER_SIGNATURE],
        method=request.method or "GET",
        path=paths[0],
        body=body,
        other_paths=paths[1:],
    )


def verify(signed: SignedRequest, *, now: int) -> ApiKey:
    """Steps 2-5 of the module docstring; returns the key or raises."""
    api_key = _lookup_key(signed.key)
    timestamp = _check_timestamp(signed.timestamp, api_key.drift_ms, now)
    _check_signature(signed, api_key)
    _claim_nonce(api_key, signed.nonce, timestamp, now)
    return api_key


def _check_environment(key: str) -> str | None:
    """The key's environment, which must be this server's (checked before the
    lookup: the key does not exist here, and "wrong environment" is the
    helpful answer). None for a legacy key id without an environment."""
    server_env = settings.EXCHANGE_ENV
    key_env = signing.key_environment(key)
    if key_env is not None and key_env != server_env:
        raise errors.KeyWrongEnvironment(
            f"This is a {key_env} key ({signing.KEY_PREFIXES[key_env]}...) and "
            f"this is the {server_env} exchange: use a "
            f"{signing.KEY_PREFIXES[server_env]}... key here.",
            details={"key_environment": key_env, "server_environment": server_env},
        )
    return key_env


def _lookup_key(key: str) -> ApiKey:
    _check_environment(key)
    api_key = apikey_get_cached(key=key)
    if api_key is None:
        raise errors.InvalidKey()
    if api_key.revoked_at is not None:
        raise errors.KeyRevoked()
    if api_key.disabled_at is not None:
        raise errors.KeyDisabled()
    return api_key


def _check_timestamp(value: str, drift_ms: int, now: int) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_TIMESTAMP_DIGITS:
        hint = " (milliseconds, not seconds)" if "." in value else ""
        raise errors.InvalidTimestamp(
            f"X-Api-Timestamp must be Unix time in integer milliseconds{hint}.",
            details={"server_time": now},
        )
    timestamp = int(value)
    skew = timestamp - now
    details = {"server_time": now, "skew_ms": skew, "drift_ms": drift_ms}
    if skew < -drift_ms:
        hint = " Send milliseconds, not seconds." if timestamp < 10**12 else ""
        raise errors.TimestampExpired(
            f"The timestamp is {-skew} ms behind server time; this key accepts "
            f"{drift_ms} ms.{hint}",
            details=details,
        )
    if skew > drift_ms:
        raise errors.TimestampInFuture(
            f"The timestamp is {skew} ms ahead of server time; this key accepts "
            f"{drift_ms} ms.",
            details=details,
        )
    return timestamp


def _check_signature(signed: SignedRequest, api_key: ApiKey) -> None:
    # The domain is the server's environment; a legacy key (no prefix) has
    # none and signs the v1 prehash.
    legacy = signing.key_environment(signed.key) is None
    secret = decrypt_secret(api_key.secret_encrypted)
    for path in (signed.path, *signed.other_paths):
        expected = signing.sign_request(
            environment=None if legacy else settings.EXCHANGE_ENV,
            secret=secret,
            key=signed.key,
            method=signed.method,
            path=path,
            body=signed.body,
            timestamp=signed.timestamp,
            nonce=signed.nonce,
        )
        if signing.signature_matches(expected, signed.signature):
            return
    raise errors.InvalidSignature(
        "The signature does not match; see docs/signing.md for the prehash.",
        details={"signed_path": signed.path, "method": signed.method},
    )


def nonce_cache_key(api_key: ApiKey, nonce: str) -> str:
    return f"apikeys:nonce:{api_key.pk}:{nonce}"


def _claim_nonce(api_key: ApiKey, nonce: str, timestamp: int, now: int) -> None:
    if not signing.NONCE_RE.match(nonce):
        raise errors.InvalidNonce(
            "X-Api-Nonce must be 8-64 characters of [A-Za-z0-9_-]."
        )
    # Keep the nonce until its timestamp leaves the widest possible window, so a
    # later increase of the key's drift cannot reopen a replay.
    ttl_s = -(-(timestamp + MAX_DRIFT_MS - now) // 1000) + 1
    try:
        fresh = cache.add(nonce_cache_key(api_key, nonce), 1, ttl_s)
    except Exception as exc:  # noqa: BLE001 - no replay check, no entry
        log.warning("nonce cache unavailable", exc_info=True)
        raise DomainError(
            "Replay protection is unavailable; retry shortly.",
            code=ErrorCode.SYSTEM_UNAVAILABLE,
        ) from exc
    if not fresh:
        raise errors.NonceReused(
            "This nonce was already used with this key; send a fresh random one."
        )


_marked: dict[int, float] = {}  # key pk -> when this process last marked it


def _mark_used(api_key: ApiKey, address: Any) -> None:
    # At most one write a minute per key, whichever process gets there first;
    # a process that marked the key recently does not even ask the cache. The
    # address is the one of the request that wrote (the account page says
    # "last used ... from ..." to the minute, not per request).
    now = time.monotonic()
    if now - _marked.get(api_key.pk, -LAST_USED_EVERY_S) < LAST_USED_EVERY_S:
        return
    _marked[api_key.pk] = now
    try:
        if not cache.add(f"apikeys:used:{api_key.pk}", 1, LAST_USED_EVERY_S):
            return
        ApiKey.objects.filter(pk=api_key.pk).update(
            last_used_at=timezone.now(),
            last_used_ip=None if address is None else str(address),
        )
    except Exception:  # noqa: BLE001 - bookkeeping only; never fail a request over it
        log.warning(
            "could not record last use of api key %s", api_key.pk, exc_info=True
        )


def _lazy_user(user_id: int) -> Any:
    return SimpleLazyObject(lambda: get_user_model()._default_manager.get(pk=user_id))


def authenticate_http(request: HttpRequest) -> ApiKey:
    """Steps 1-5 for a Django request; also for non-DRF edges."""
    api_key = verify(signed_request_from_http(request), now=now_ms())
    _mark_used(api_key, client_address(request))
    return api_key


class ApiKeyAuthentication(BaseAuthentication):
    """DRF authentication for signed endpoints: ``(user, api_key)`` or raises
    the AUTH_* error (a ``DomainError``, rendered by the exception handler)."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey]:
        api_key = authenticate_http(request._request)
        request._request.api_key = api_key  # type: ignore[attr-defined]
        return _lazy_user(api_key.user_id), api_key

    def authenticate_header(self, request: Request) -> str:
        return AUTH_SCHEME


def authenticate_stream(
    *, fields: dict[str, Any], remote_addr: str, forwarded_for: str
) -> ApiKey:
    """The WebSocket ``auth`` op: the REST scheme's checks on the four values
    the headers would carry, with a fixed prehash (``GET``, ``/v1/ws``, empty
    body), then the key's IP allow-list for the connection's address and
    scope ``read`` at least."""
    values = {name: fields.get(name) for name in ("key", "timestamp", "nonce")}
    values["signature"] = fields.get("signature")
    missing = [n for n, v in values.items() if not isinstance(v, str) or not v]
    if missing:
        raise errors.MissingHeaders(
            f"auth needs {', '.join(missing)} (strings).",
            details={"missing": missing},
        )
    signed = SignedRequest(
        key=values["key"],
        timestamp=values["timestamp"],
        nonce=values["nonce"],
        signature=values["signature"],
        method=signing.STREAM_METHOD,
        path=signing.STREAM_PATH,
        body=b"",
    )
    api_key = verify(signed, now=now_ms())
    address = address_from(remote_addr, forwarded_for)
    check_ip_address(api_key, address)
    check_scope(api_key, "read")
    _mark_used(api_key, address)
    return api_key
