"""The API-key errors: one class per code of the AUTH_*, PERMISSION_* and
RATE_LIMIT_* families (codes and statuses live in apps.core.errors)."""

from __future__ import annotations

from apps.core.errors import DomainError, ErrorCode


class AuthError(DomainError):
    """Base of the 401 answers: the request is not proven to come from a key."""


class MissingHeaders(AuthError):
    code = ErrorCode.AUTH_MISSING_HEADERS


class InvalidKey(AuthError):
    code = ErrorCode.AUTH_INVALID_KEY


class KeyWrongEnvironment(AuthError):
    code = ErrorCode.AUTH_KEY_WRONG_ENVIRONMENT


class KeyRevoked(AuthError):
    code = ErrorCode.AUTH_KEY_REVOKED


class KeyDisabled(AuthError):
    code = ErrorCode.AUTH_KEY_DISABLED


class InvalidSignature(AuthError):
    code = ErrorCode.AUTH_INVALID_SIGNATURE


class InvalidTimestamp(AuthError):
    code = ErrorCode.AUTH_INVALID_TIMESTAMP


class TimestampExpired(AuthError):
    code = ErrorCode.AUTH_TIMESTAMP_EXPIRED


class TimestampInFuture(AuthError):
    code = ErrorCode.AUTH_TIMESTAMP_IN_FUTURE


class InvalidNonce(AuthError):
    code = ErrorCode.AUTH_INVALID_NONCE


class NonceReused(AuthError):
    code = ErrorCode.AUTH_NONCE_REUSED


class ScopeMissing(DomainError):
    code = ErrorCode.PERMISSION_SCOPE_MISSING


class IpNotAllowed(DomainError):
    code = ErrorCode.PERMISSION_IP_NOT_ALLOWED


class RateLimitExceeded(DomainError):
    code = ErrorCode.RATE_LIMIT_EXCEEDED
