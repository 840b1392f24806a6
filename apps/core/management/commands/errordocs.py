"""Write docs/errors.md from the error registry (a test keeps them in sync)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.core.errors import ERRORS


def render() -> str:
    lines = [
        "# Error codes",
        "",
        "Every error, REST or WebSocket, has one shape:",
        "",
        "```json",
        '{"error": {"code": "AUTH_INVALID_SIGNATURE", "message": "...", "request_id": "...",',
        '           "retryable": false, "details": {}}}',
        "```",
        "",
        "`code` is stable and means one cause; `message` is for people and may change;",
        "`details` carries the facts of the case (the field, the limit, the server time).",
        "`retryable` says whether the same request may succeed later unchanged (for",
        "orders, resend with the same `client_order_id`). Every response carries",
        "`X-Request-Id` (quote it to support) and `X-Server-Time` (Unix ms).",
        "",
        "This table is generated from `apps/core/errors.py` by",
        "`python manage.py errordocs`; a test fails when they differ.",
        "",
        "| code | HTTP | retryable | meaning |",
        "|---|---|---|---|",
    ]
    for code, spec in ERRORS.items():
        lines.append(
            f"| `{code}` | {spec.status} | {'yes' if spec.retryable else 'no'} | {spec.description} |"
        )
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Regenerate docs/errors.md from the error registry."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Exit 1 if the file is stale."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(settings.BASE_DIR) / "docs" / "errors.md"
        text = render()
        if opts["check"]:
            if not path.exists() or path.read_text() != text:
                self.stderr.write(
                    "docs/errors.md is stale: run python manage.py errordocs"
                )
                raise SystemExit(1)
            return
        path.write_text(text)
        self.stdout.write(f"wrote {path}")
