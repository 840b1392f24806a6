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
