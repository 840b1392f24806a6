"""The OpenAPI document's ``info.description``: what an integrator needs from
/v1/docs alone (signing, errors, input rules), without the repository's docs/.

Plain text, no imports: settings.SPECTACULAR_SETTINGS["DESCRIPTION"] reads it.
``tests/core/test_api_guide.py`` checks the worked example against
``exchange.client.signing`` and the limits against the code.
"""

from __future__ import annotations

API_DESCRIPTION = r"""
Spot exchange developer API. Amounts are **decimal strings** (`"0.0150"`), never
JSON numbers; times are Unix milliseconds or ISO 8601 UTC.

## Signing

Public market data needs no signature. Every other request carries four headers:

| header | value |
|---|---|
| `X-Api-Key` | the key id: `hkt_test_` + 32 hex (sandbox) or `hkt_live_` + 32 hex (production) |
| `X-Api-Timestamp` | Unix time in integer **milliseconds**, within the key's drift tolerance (default 5,000 ms) of server time |
| `X-Api-Nonce` | 8-64 characters of `[A-Za-z0-9_-]`, random, never reused with the key |
| `X-Api-Signature` | lowercase hex HMAC-SHA256(secret as UTF-8, prehash as UTF-8) |

The prehash is these eight lines joined by `\n` (no trailing newline):

```
v2
{signing domain: hkt-sandbox for hkt_test_ keys, hkt-production for hkt_live_ keys}
{X-Api-Timestamp, exactly as sent}
{X-Api-Nonce}
{X-Api-Key}
{METHOD, upper case}
{path, plus "?" and the query string exactly as sent, if there is one}
{lowercase hex SHA-256 of the raw body bytes; of the empty string for no body}
```

Sign the bytes you send: serialise the JSON body once, hash and send those same
bytes. Likewise sign the path exactly as it goes on the wire, percent-encoding
included: `/v1/orders/client:abc/cancel` (encoding only what must be encoded,
as httpx and curl send it) or `/v1/orders/client%3Aabc/cancel` (every character
outside `A-Za-z0-9-._~` encoded, upper-case hex, as generated clients send a
path parameter). Every server accepts a signature over either spelling of the
path it received, whichever was sent (some servers see only the decoded path);
other spellings (`%3a`, `%2D`) are not guaranteed to verify. A key made before the environment prefixes (`hkt_` + 32 hex) signs the
seven lines `v1`, timestamp, nonce, key, method, path, body hash (no domain line).

### Worked example

Secret `sandbox-secret-9Jq3xV7LmZ2pW8rT5yN1bC4dF6gH0kQe`, placing an order:

```json
{
  "key": "hkt_test_0123456789abcdef0123456789abcdef",
  "secret": "sandbox-secret-9Jq3xV7LmZ2pW8rT5yN1bC4dF6gH0kQe",
  "timestamp": "1714521600000",
  "nonce": "7f3a1b8e",
  "method": "POST",
  "path": "/v1/orders",
  "body": "{\"pair\":\"BTC-USD\",\"side\":\"buy\",\"type\":\"limit\",\"price\":\"64000.00\",\"size\":\"0.0150\"}",
  "body_sha256": "16f1ec59ea1ee841fcca5357443a76f3033dc61886381b0f1de64d712deca157",
  "prehash": "v2\nhkt-sandbox\n1714521600000\n7f3a1b8e\nhkt_test_0123456789abcdef0123456789abcdef\nPOST\n/v1/orders\n16f1ec59ea1ee841fcca5357443a76f3033dc61886381b0f1de64d712deca157",
  "signature": "a77a657847a5a575470419bcc10ca8ed491368e8802850c9fe48962267ad7388"
}
```

Check it with nothing but OpenSSL:

```sh
printf 'v2\nhkt-sandbox\n1714521600000\n7f3a1b8e\nhkt_test_0123456789abcdef0123456789abcdef\nPOST\n/v1/orders\n16f1ec59ea1ee841fcca5357443a76f3033dc61886381b0f1de64d712deca157' \
  | openssl dgst -sha256 -hmac 'sandbox-secret-9Jq3xV7LmZ2pW8rT5yN1bC4dF6gH0kQe'
```

A signed request is checked in this order, the first failure answering:
headers present (`AUTH_MISSING_HEADERS`), key environment, existence and
revocation (`AUTH_KEY_WRONG_ENVIRONMENT`, `AUTH_INVALID_KEY`,
`AUTH_KEY_REVOKED`), timestamp (`AUTH_INVALID_TIMESTAMP`,
`AUTH_TIMESTAMP_EXPIRED`, `AUTH_TIMESTAMP_IN_FUTURE`, with `server_time` and
`skew_ms` in details), signature (`AUTH_INVALID_SIGNATURE`), nonce
(`AUTH_INVALID_NONCE`, `AUTH_NONCE_REUSED`), IP allow-list
(`PERMISSION_IP_NOT_ALLOWED`), scope (`PERMISSION_SCOPE_MISSING`), rate limit
(`RATE_LIMIT_EXCEEDED`). Scopes: `read` < `trade` < `withdraw`; each operation
states its own in `x-required-scope`.

## Errors

Every error has one shape, with the matching HTTP status:

```json
{"error": {"code": "AUTH_INVALID_SIGNATURE", "message": "The signature does not match.",
           "request_id": "9f1c2e7a4b3d4c5e", "retryable": false, "details": {}}}
```

`code` is stable and means one cause (the `ErrorCode` schema lists them all;
each operation lists the ones it answers); `message` is for people and may
change; `details` carries the facts of the case (the field, the limit);
`retryable` says whether the same request may succeed later unchanged (for
orders, resend with the same `client_order_id`). An unknown `/v1` path is 404
`NOT_FOUND`, a method a path does not have 405 `METHOD_NOT_ALLOWED`.

## Input is strict

A body is a JSON object of at most 65,536 bytes (else 413
`VALIDATION_BODY_TOO_LARGE`, `details.max_bytes`). A field the operation does
not take is `VALIDATION_UNKNOWN_FIELD` (`details.fields`, `details.allowed`);
a repeated key `VALIDATION_DUPLICATE_KEY`; a value of the wrong JSON type
(`"post_only": "true"`, `"client_order_id": 123`) `VALIDATION_INVALID_TYPE`
(`details.field`, `details.expected`); an amount that is not a decimal string
`VALIDATION_INVALID_DECIMAL`; one beyond what the exchange stores
`VALIDATION_OUT_OF_RANGE`. Nothing is coerced or ignored. A query parameter
given twice (`?depth=10&depth=20`) is `VALIDATION_DUPLICATE_PARAM`
(`details.param`); one the operation does not list (`?limt=5`)
`VALIDATION_UNKNOWN_PARAM` (`details.params`, `details.allowed`).

## Headers of every response

`X-Request-Id` (quote it to support), `X-Server-Time` (Unix ms: keep your clock
offset from it), `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds) and
`-Cost` (this request's weight, `x-rate-limit-weight` on each operation); 429
and 503 answers carry `Retry-After` (seconds). An order placement that replays
an earlier `client_order_id` answers 200 with `Idempotent-Replayed: true`.
""".strip()
