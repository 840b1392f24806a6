from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.matching.fencing import OwnershipLost
from apps.matching.locks import PairOwned
from apps.matching.worker import MatcherProcess


class Command(BaseCommand):
    help = (
        "Run the matcher for some pairs (default: all): owns their books exclusively. "
        "Exit codes: 3 = a pair is owned by another matcher (without --wait); "
        "4 = lost ownership while running (restart it, e.g. as a standby)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--pairs", default="", help="Comma-separated symbols, e.g. BTC-USD,ETH-USD"
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Hot standby: wait until every one of these pairs is free, then "
            "take them all at once (no lock is held while any is owned elsewhere).",
        )
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--poll-ms", type=int, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        symbols = [s.strip() for s in opts["pairs"].split(",") if s.strip()] or None
        matcher = MatcherProcess(
            symbols,
            wait_for_lock=opts["wait"],
            batch_size=opts["batch_size"],
            poll_ms=opts["poll_ms"],
        )
        try:
            matcher.run()
        except PairOwned as exc:
            raise CommandError(str(exc), returncode=3) from exc
        except OwnershipLost as exc:
            # Another matcher took (or may take) our pairs; nothing more was
            # written. A supervisor restarts us, as a standby with --wait.
            raise CommandError(
                f"lost ownership of the pairs ({exc}); nothing more was written",
                returncode=4,
            ) from exc
