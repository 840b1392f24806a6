"""The matcher's own bookkeeping: who owns which pair, and how far it got."""

from django.db import models


class MatcherHeartbeat(models.Model):
    pair = models.OneToOneField(
        "markets.Pair", on_delete=models.CASCADE, related_name="+"
    )
    owner = models.CharField(
        max_length=128, help_text="host:pid of the owning matcher."
    )
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    last_event_seq = models.BigIntegerField(default=0)
    processed = models.BigIntegerField(default=0, help_text="Commands since start.")

    def __str__(self) -> str:
        return f"{self.pair_id}: {self.owner or 'stopped'}"
