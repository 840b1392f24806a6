from __future__ import annotations

import importlib

import pytest
from django.urls import clear_url_caches

import apps.web.urls
import exchange.api_urls
import exchange.urls


def reload_urls() -> None:
    """Rebuild the URLconf: which sandbox routes exist is decided when it is
    imported (EXCHANGE_ENV, SIGNUP_ENABLED)."""
    importlib.reload(exchange.api_urls)
    importlib.reload(apps.web.urls)
    importlib.reload(exchange.urls)
    clear_url_caches()


@pytest.fixture
def production(settings):
    """EXCHANGE_ENV=production with its defaults (sign-up off) and the
    URLconf rebuilt for it; the sandbox's is put back afterwards."""
    settings.EXCHANGE_ENV = "production"
    settings.IS_PRODUCTION = True
    settings.SIGNUP_ENABLED = False
    reload_urls()
    yield settings
    settings.EXCHANGE_ENV = "sandbox"
    settings.IS_PRODUCTION = False
    settings.SIGNUP_ENABLED = True
    reload_urls()
