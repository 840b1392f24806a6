from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.matching.selectors import matcher_status


class Command(BaseCommand):
    help = "Per pair: owning matcher, last event sequence, queue length and lag."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        rows = matcher_status()
        if opts["json"]:
            self.stdout.write(json.dumps(rows, indent=2, default=str))
            return
        self.stdout.write(
            f"{'pair':<10} {'owner':<28} {'alive':<5} {'last_seq':>9} {'queue':>6} {'lag_ms':>8}"
        )
        for r in rows:
            self.stdout.write(
                f"{r['pair']:<10} {r['owner'] or '-':<28} {str(r['alive']):<5} "
                f"{r['last_seq']:>9} {r['queue']:>6} {r['lag_ms']:>8}"
            )
