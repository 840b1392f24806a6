"""Shared fixtures of the browser tests: a live exchange (daphne + the
matcher on the test database), Debian's Chromium driven by Playwright, and
screenshots under var/screenshots/.

Chromium is the system package (``.ci/run`` installs it); Playwright never
downloads a browser of its own. Without a chromium the tests skip, except on
CI (``CI=true``), where a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.matching.processes import exchange
from tests.web.browser.pages import DESKTOP, save_screenshot


def chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _require_browser() -> str:
    path = chromium_path()
    if path is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: CI must run the browser tests")
        pytest.skip(message)
    return path


@dataclass
class LiveExchange:
    """A running exchange: ``base`` is daphne's URL (http://127.0.0.1:port)."""

    base: str
    matcher: Any
    log: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def live_exchange(
    transactional_db: None, tmp_path: Path
) -> Iterator[Callable[..., LiveExchange]]:
    """Start daphne and the matcher (every pair unless ``pairs`` says which)
    on the test database: ``live = live_exchange()``. Call it after creating
    the pairs (the matcher takes the pairs that exist when it starts);
    ``env`` adds daphne settings. Both stop when the test ends."""
    with ExitStack() as stack:

        def start(
            pairs: str | None = None, env: dict[str, str] | None = None
        ) -> LiveExchange:
            settings = {"EXCHANGE_ENV": "sandbox", "SIMULATOR": "0", **(env or {})}
            matcher, base = stack.enter_context(exchange(tmp_path, pairs, settings))
            return LiveExchange(base=base, matcher=matcher, log=tmp_path / "daphne.log")

        yield start


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian Chromium through Playwright, for one test.

    Playwright's sync API keeps an asyncio loop on the test's thread, which
    Django takes for async code and so refuses the ORM; the test's own ORM
    calls are plain sync code, so they are allowed while the browser runs
    (and only then: one browser per test, not per session)."""
    executable = _require_browser()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # Root in a container has no user namespaces for Chromium's sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class PageErrors:
    """What went wrong in a page: uncaught exceptions and console errors
    (a Content-Security-Policy violation is a console error)."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.messages.append(
                f"console: {msg.text} ({msg.location.get('url', '')})"
            )
            if msg.type == "error"
            else None,
        )


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(viewport=DESKTOP or PHONE)``: a page in a fresh browser
    context (its own cookies); ``page.errors`` lists its errors. Closed at
    the end of the test."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        is_phone = (viewport or DESKTOP)["width"] < 600
        context = browser.new_context(
            viewport=viewport or DESKTOP,
            is_mobile=is_phone,
            has_touch=is_phone,
            device_scale_factor=2 if is_phone else 1,
            **options,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = PageErrors()
        errors.watch(page)
        page.errors = errors.messages
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Any]) -> Any:
    """A desktop-sized page."""
    return new_page(DESKTOP)


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, name)`` saves var/screenshots/<name>.png."""
    return save_screenshot
