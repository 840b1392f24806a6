"""Writes to assets and pairs: sandbox seeding and status changes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apps.markets.models import Asset, Pair, PairStatus


@dataclass(frozen=True)
class _PairSeed:
    symbol: str
    tick: str
    lot: str
    min_size: str
    min_notional: str


SANDBOX_ASSETS = [
    # code, name, scale, circulating supply (whole units)
    ("BTC", "Bitcoin", 8, 19_800_000),
    ("ETH", "Ether", 8, 120_400_000),
    ("USD", "US Dollar", 6, 0),
]
SANDBOX_PAIRS = [
    _PairSeed(
        "BTC-USD", tick="0.01", lot="0.0001", min_size="0.0001", min_notional="1"
    ),
    _PairSeed("ETH-USD", tick="0.01", lot="0.0001", min_size="0.001", min_notional="1"),
    _PairSeed(
        "ETH-BTC", tick="0.00001", lot="0.001", min_size="0.001", min_notional="0.0001"
    ),
]


@transaction.atomic
def markets_seed() -> list[Pair]:
    """Create the sandbox assets and pairs if missing; never changes existing
    rows (an operator's edits in admin win). Idempotent."""
    from apps.core.money import parse_units

    assets = {}
    for code, name, scale, supply in SANDBOX_ASSETS:
        assets[code], _ = Asset.objects.get_or_create(
            code=code,
            defaults={"name": name, "scale": scale, "circulating_supply": supply},
        )
    pairs = []
    for seed in SANDBOX_PAIRS:
        base_code, quote_code = seed.symbol.split("-")
        base, quote = assets[base_code], assets[quote_code]
        pair = Pair.objects.filter(symbol=seed.symbol).first()
        if pair is None:
            pair = Pair(
                symbol=seed.symbol,
                base=base,
                quote=quote,
                tick_size=parse_units(seed.tick, quote.scale, field="tick"),
                lot_size=parse_units(seed.lot, base.scale, field="lot"),
                min_size=parse_units(seed.min_size, base.scale, field="min_size"),
                min_notional=parse_units(
                    seed.min_notional, quote.scale, field="min_notional"
                ),
            )
            pair.full_clean()
            pair.save()
        pairs.append(pair)
    return pairs


def pair_set_status(*, pair: Pair, status: str) -> Pair:
    """Change a pair's trading status; the matcher reads it before each batch."""
    pair.status = PairStatus(status)
    pair.save(update_fields=["status"])
    from apps.markets.selectors import _pair_memo

    _pair_memo.pop(pair.symbol, None)
    return pair
