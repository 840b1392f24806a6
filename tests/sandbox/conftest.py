from __future__ import annotations

import importlib

import pytest
from django.urls import clear_url_caches

import exchange.api_urls
import exchange.urls


def _reload_urls() -> None:
    importlib.reload(exchange.api_urls)
    importlib.reload(exchange.urls)
    clear_url_caches()


@pytest.fixture
def production(settings):
    """EXCHANGE_ENV=production, with the URLconf rebuilt for it (the sandbox
    routes are decided when the URLconf is imported), then put back."""
    settings.EXCHANGE_ENV = "production"
    settings.IS_PRODUCTION = True
    _reload_urls()
    yield settings
    settings.EXCHANGE_ENV = "sandbox"
    settings.IS_PRODUCTION = False
    _reload_urls()
