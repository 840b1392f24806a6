from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Max, Min
from django.utils import timezone

from apps.markets.models import MarketEvent, Pair
from apps.matching.models import MatcherHeartbeat
from apps.orders.models import OrderCommand

ALIVE_WITHIN = timedelta(seconds=5)


def matcher_status() -> list[dict[str, Any]]:
    """One row per pair: owner, liveness, last event seq, queue and its lag."""
    now = timezone.now()
    beats = {b.pair_id: b for b in MatcherHeartbeat.objects.all()}
    queues = {
        r["pair_id"]: r
        for r in OrderCommand.objects.filter(processed_at__isnull=True)
        .values("pair_id")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    }
    seqs = dict(
        MarketEvent.objects.values("pair_id")
        .annotate(m=Max("seq"))
        .values_list("pair_id", "m")
    )
    rows = []
    for pair in Pair.objects.order_by("symbol"):
        beat = beats.get(pair.pk)
        queue = queues.get(pair.pk)
        rows.append(
            {
                "pair": pair.symbol,
                "status": pair.status,
                "owner": beat.owner if beat else "",
                "alive": bool(
                    beat and beat.owner and now - beat.heartbeat_at < ALIVE_WITHIN
                ),
                "last_seq": seqs.get(pair.pk, 0),
                "queue": queue["n"] if queue else 0,
                "lag_ms": int((now - queue["oldest"]).total_seconds() * 1000)
                if queue
                else 0,
            }
        )
    return rows
