from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured

from apps.apikeys.crypto import decrypt_secret, encrypt_secret, reencrypt_secret


def test_secret_round_trips_and_is_not_stored_in_clear():
    token = encrypt_secret("s3cret-value")
    assert "s3cret-value" not in token
    assert decrypt_secret(token) == "s3cret-value"


def test_rotation_decrypts_old_secrets_and_reencrypts_under_the_new_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.API_SECRET_ENCRYPTION_KEY = old
    token = encrypt_secret("rotate-me")
    settings.API_SECRET_ENCRYPTION_KEY = f"{new},{old}"
    assert decrypt_secret(token) == "rotate-me"
    rotated = reencrypt_secret(token)
    settings.API_SECRET_ENCRYPTION_KEY = new
    assert decrypt_secret(rotated) == "rotate-me"
    with pytest.raises(InvalidToken):
        decrypt_secret(token)


def test_malformed_encryption_key_is_a_configuration_error(settings):
    settings.API_SECRET_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(ImproperlyConfigured):
        encrypt_secret("x")
