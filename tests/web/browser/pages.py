"""Helpers of the browser tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def save_screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save ``page`` as var/screenshots/<name>.png; returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def canvas_painted(page: Any, selector: str) -> bool:
    """Whether any canvas matching ``selector`` has a non-transparent pixel."""
    return bool(
        page.evaluate(
            """(selector) => Array.from(document.querySelectorAll(selector)).some(
                (canvas) => {
                  if (!canvas.width || !canvas.height) return false;
                  const data = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                  for (let i = 3; i < data.length; i += 4) if (data[i]) return true;
                  return false;
                })""",
            selector,
        )
    )


def wait_for(page: Any, expression: str, arg: Any = None, timeout: float = 15) -> Any:
    """Poll ``expression`` (a JS function of ``arg``) until it returns a truthy
    value, which is returned. Playwright's own ``wait_for_function`` polls by
    evaluating the function's text inside the page, which the pages' CSP
    (no 'unsafe-eval') refuses whenever the first check is false; each
    ``page.evaluate`` is a DevTools call that the CSP does not govern."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)
