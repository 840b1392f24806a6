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


class PairOwner(models.Model):
    """The fencing token of a pair's book (apps/matching/fencing.py).

    A matcher that takes a pair's lock increments ``epoch``; every settlement
    transaction locks this row and checks the epoch it was given, so a matcher
    that lost the lock can never commit again once a newer owner exists."""

    pair = models.OneToOneField(
        "markets.Pair", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    epoch = models.BigIntegerField(default=0)
    owner = models.CharField(max_length=128, help_text="host:pid of the owner.")
    taken_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.pair_id}: epoch {self.epoch} ({self.owner})"
