"""Delete private events older than the journal's retention (for operators
and cron; the matcher's housekeeping also prunes, a little at a time)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.accounts.services import account_events_keep_hours, account_events_prune


class Command(BaseCommand):
    help = (
        "Delete private account events (orders, fills, balances) older than "
        "ACCOUNT_EVENTS_KEEP_HOURS (at least 24 h). Stream counters are kept, "
        "so seqs continue."
    )

    def handle(self, *args: object, **opts: object) -> None:
        deleted = account_events_prune()
        self.stdout.write(
            f"deleted {deleted} account events older than "
            f"{account_events_keep_hours()} h"
        )
