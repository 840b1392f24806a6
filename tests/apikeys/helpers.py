"""Signing helpers for the Django test client."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from exchange.client import signing


def sign_headers(
    api_key: Any,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
    secret: str | None = None,
    environment: str | None = None,
) -> dict[str, str]:
    ts = signing.now_ms() if timestamp is None else timestamp
    nonce = signing.new_nonce() if nonce is None else nonce
    signature = signing.sign_request(
        secret=secret if secret is not None else api_key.secret,
        key=api_key.key,
        method=method,
        path=path,
        body=body,
        timestamp=ts,
        nonce=nonce,
        environment=environment,
    )
    return {
        "X-Api-Key": api_key.key,
        "X-Api-Timestamp": str(ts),
        "X-Api-Nonce": nonce,
        "X-Api-Signature": signature,
    }


def signed(
    client: Client,
    api_key: Any,
    method: str,
    path: str,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    remote_addr: str = "127.0.0.1",
    extra: dict[str, str] | None = None,
    **sign_kwargs: Any,
) -> Any:
    """Send a signed request; ``headers`` override the computed ones
    (None values drop a header)."""
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    all_headers: dict[str, Any] = sign_headers(
        api_key, method, path, body, **sign_kwargs
    )
    all_headers.update(headers or {})
    all_headers = {k: v for k, v in all_headers.items() if v is not None}
    kwargs: dict[str, Any] = {
        "headers": all_headers,
        "REMOTE_ADDR": remote_addr,
        **(extra or {}),
    }
    if body:
        kwargs.update(data=body, content_type="application/json")
    return client.generic(method, path, **kwargs)


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def assert_vector_holds(vector: dict[str, Any]) -> None:
    """A published signing test vector (docs/signing.md, the spec's worked
    example) agrees with the signer: body hash, prehash and signature."""
    from exchange.client import signing

    body = vector["body"].encode("utf-8")
    assert signing.body_sha256(body) == vector["body_sha256"]
    prehash = signing.prehash(
        timestamp=vector["timestamp"],
        nonce=vector["nonce"],
        key=vector["key"],
        method=vector["method"],
        path=vector["path"],
        body=body,
    )
    assert prehash == vector["prehash"]
    assert signing.sign(vector["secret"], prehash) == vector["signature"]
