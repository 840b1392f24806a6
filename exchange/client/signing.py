"""The request signing algorithm (docs/signing.md), the single implementation.

The server (``apps.apikeys.auth``) and every client import these functions, so
the two sides cannot drift apart. No Django import here: keep it that way.

    prehash = "\\n".join([
        "v2", domain, timestamp, nonce, key, METHOD, path_and_query,
        sha256_hex(body),
    ])
    signature = hex(HMAC-SHA256(secret as UTF-8 bytes, prehash as UTF-8 bytes))

The signing domain names the environment (``hkt-sandbox``, ``hkt-production``)
so a signature made for one is worthless in the other. A client derives it
from the key's prefix (``hkt_test_`` sandbox, ``hkt_live_`` production); the
server from its own ``EXCHANGE_ENV``, after refusing a key of the other
environment. Keys made before environments had prefixes (``hkt_`` + 32 hex)
have no environment and sign the original, domain-less ``v1`` prehash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

VERSION = "v2"
LEGACY_VERSION = "v1"  # keys without an environment prefix (no domain line)
SANDBOX = "sandbox"
PRODUCTION = "production"
ENVIRONMENTS = (SANDBOX, PRODUCTION)
# Key-id prefixes and signing domains per environment. The prefixes are tried
# before the legacy "hkt_", which both of them extend.
KEY_PREFIXES = {SANDBOX: "hkt_test_", PRODUCTION: "hkt_live_"}
DOMAINS = {SANDBOX: "hkt-sandbox", PRODUCTION: "hkt-production"}
LEGACY_KEY_PREFIX = "hkt_"
HEADER_KEY = "X-Api-Key"
HEADER_TIMESTAMP = "X-Api-Timestamp"
HEADER_NONCE = "X-Api-Nonce"
HEADER_SIGNATURE = "X-Api-Signature"
SIGNING_HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

NONCE_RE = re.compile(r"\A[A-Za-z0-9_-]{8,64}\Z")
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def now_ms() -> int:
    """Unix time in integer milliseconds (no float on the way)."""
    return time.time_ns() // 1_000_000


def new_nonce() -> str:
    """A random nonce: 32 lowercase hex characters (128 bits)."""
    return secrets.token_hex(16)


def body_sha256(body: bytes | str | None) -> str:
    """Lowercase hex SHA-256 of the raw body bytes; of b"" when there is no body."""
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def key_environment(key: str) -> str | None:
    """The environment a key id belongs to by its prefix (``"sandbox"`` or
    ``"production"``); None for a legacy or unknown key id."""
    for environment, prefix in KEY_PREFIXES.items():
        if key.startswith(prefix):
            return environment
    return None


def signing_domain(environment: str) -> str:
    """The prehash's domain line for ``environment``; ValueError if unknown."""
    try:
        return DOMAINS[environment]
    except KeyError:
        raise ValueError(
            f"unknown environment {environment!r}; use one of {ENVIRONMENTS}"
        ) from None


def prehash(
    *,
    timestamp: int | str,
    nonce: str,
    key: str,
    method: str,
    path: str,
    body: bytes | str | None = b"",
    environment: str | None = None,
) -> str:
    """The string that is signed.

    ``path`` is the request path plus "?" and the query string exactly as sent
    (no "?" when there is no query string). ``timestamp`` is the X-Api-Timestamp
    header value as sent. ``environment`` picks the signing domain; None
    derives it from the key's prefix, and a key with no environment prefix
    (legacy ``hkt_`` + 32 hex) gets the domain-less v1 prehash.
    """
    env = environment if environment is not None else key_environment(key)
    tail = (str(timestamp), nonce, key, method.upper(), path, body_sha256(body))
    if env is None:
        return "\n".join((LEGACY_VERSION, *tail))
    return "\n".join((VERSION, signing_domain(env), *tail))


def sign(secret: str, message: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` under ``secret`` (both UTF-8)."""
    mac = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()


def sign_request(
    *,
    secret: str,
    key: str,
    method: str,
    path: str,
    body: bytes | str | None = b"",
    timestamp: int | str,
    nonce: str,
    environment: str | None = None,
) -> str:
    """The X-Api-Signature value for one request (``environment``: see
    ``prehash``; clients leave it None)."""
    return sign(
        secret,
        prehash(
            timestamp=timestamp,
            nonce=nonce,
            key=key,
            method=method,
            path=path,
            body=body,
            environment=environment,
        ),
    )


def signature_matches(expected: str, presented: str) -> bool:
    """Constant-time comparison of two signatures (any characters, never raises)."""
    return hmac.compare_digest(
        expected.encode("utf-8"), presented.encode("utf-8", "surrogateescape")
    )


def signed_headers(
    *,
    secret: str,
    key: str,
    method: str,
    path: str,
    body: bytes | str | None = b"",
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four signing headers for a request, with a fresh timestamp and nonce."""
    ts = now_ms() if timestamp is None else timestamp
    nonce = new_nonce() if nonce is None else nonce
    signature = sign_request(
        secret=secret,
        key=key,
        method=method,
        path=path,
        body=body,
        timestamp=ts,
        nonce=nonce,
    )
    return {
        HEADER_KEY: key,
        HEADER_TIMESTAMP: str(ts),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature,
    }


# The WebSocket ``auth`` op signs the REST prehash of a fixed request: these
# two strings and an empty body (docs/websocket.md, "auth").
STREAM_METHOD = "GET"
STREAM_PATH = "/v1/ws"


def stream_auth(
    *,
    key: str,
    secret: str,
    request_id: str = "auth",
    cancel_on_disconnect: bool = False,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, object]:
    """The WebSocket ``auth`` request for ``key``, signed now."""
    ts = str(now_ms() if timestamp is None else timestamp)
    nonce = new_nonce() if nonce is None else nonce
    signature = sign_request(
        secret=secret,
        key=key,
        method=STREAM_METHOD,
        path=STREAM_PATH,
        body=b"",
        timestamp=ts,
        nonce=nonce,
    )
    return {
        "op": "auth",
        "id": request_id,
        "key": key,
        "timestamp": ts,
        "nonce": nonce,
        "signature": signature,
        "cancel_on_disconnect": cancel_on_disconnect,
    }
