"""Encryption at rest of API secrets (Fernet).

The server needs the plain secret to verify an HMAC, so secrets cannot be hashed
like passwords: they are encrypted under ``settings.API_SECRET_ENCRYPTION_KEY``,
which is kept apart from ``SECRET_KEY``. The setting may list several Fernet
keys separated by commas, newest first: secrets are encrypted with the first and
decrypted with any, which lets an operator rotate the key.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@functools.lru_cache(maxsize=4)
def _fernet(setting: str) -> MultiFernet:
    keys = [part.strip() for part in setting.split(",") if part.strip()]
    if not keys:
        raise ImproperlyConfigured("API_SECRET_ENCRYPTION_KEY is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "API_SECRET_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes)"
        ) from exc


def fernet() -> MultiFernet:
    # Keyed on the setting's value so override_settings in tests takes effect.
    return _fernet(settings.API_SECRET_ENCRYPTION_KEY)


def encrypt_secret(secret: str) -> str:
    return fernet().encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The plain secret. Raises ``InvalidToken`` if no configured key opens it.

    Memoised per process (every signed request needs its key's secret, and
    Fernet's HMAC check and AES decryption were ~4% of a request's CPU);
    keyed on the setting too, so removing a key from it takes effect."""
    return _decrypt(settings.API_SECRET_ENCRYPTION_KEY, token)


@functools.lru_cache(maxsize=10_000)
def _decrypt(setting: str, token: str) -> str:
    return _fernet(setting).decrypt(token.encode("ascii")).decode("utf-8")


def reencrypt_secret(token: str) -> str:
    """The same secret under the newest key (for key rotation)."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")


__all__ = ["InvalidToken", "decrypt_secret", "encrypt_secret", "reencrypt_secret"]
