"""Writes to assets and pairs: sandbox seeding, listing a pair, its status
and price band (the staff back office calls these, never ``save()``)."""

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


def _forget_pair(symbol: str) -> None:
    # This process's placement memo; other processes' expire in PAIR_MEMO_S,
    # and the matcher re-reads every pair's status before each batch anyway.
    from apps.markets.selectors import _pair_memo

    _pair_memo.pop(symbol, None)


@transaction.atomic
def pair_create(
    *,
    base: Asset,
    quote: Asset,
    tick_size: int,
    lot_size: int,
    min_size: int,
    min_notional: int = 0,
    maker_fee_bps: int = 10,
    taker_fee_bps: int = 20,
    price_band_bps: int = 500,
    status: str = PairStatus.TRADING,
    symbol: str = "",
) -> Pair:
    """List a new pair (``symbol`` defaults to ``BASE-QUOTE``). Its grid,
    minimums and fees are fixed from now on: resting orders are stored in its
    ticks and lots and their holds were computed with its fees.

    ValidationError (Django's, per field) for a grid that would make a
    notional fractional, a minimum off the lot grid, and the like. A running
    matcher that owns all pairs takes the new one within
    ``MATCHER_NEW_PAIRS_POLL_MS`` (docs/matching-engine.md). Locks nothing."""
    pair = Pair(
        symbol=(symbol or f"{base.code}-{quote.code}").upper(),
        base=base,
        quote=quote,
        tick_size=tick_size,
        lot_size=lot_size,
        min_size=min_size,
        min_notional=min_notional,
        maker_fee_bps=maker_fee_bps,
        taker_fee_bps=taker_fee_bps,
        price_band_bps=price_band_bps,
        status=PairStatus(status),
    )
    pair.full_clean()
    pair.save()
    _forget_pair(pair.symbol)  # a memoised "no such market" is not kept
    return pair


@transaction.atomic
def pair_update(
    *, pair: Pair, status: str | None = None, price_band_bps: int | None = None
) -> Pair:
    """Change what may change on a listed pair: its trading status and its
    market-order price band. The matcher reads both before every batch (a
    band change rebuilds the book's engine), so they apply at once, without
    a restart. Locks the pair's row; returns it fresh."""
    row = Pair.objects.select_for_update().get(pk=pair.pk)
    fields = []
    if status is not None:
        row.status = PairStatus(status)
        fields.append("status")
    if price_band_bps is not None:
        row.price_band_bps = price_band_bps
        fields.append("price_band_bps")
    if fields:
        row.full_clean(exclude=["base", "quote", "symbol"])
        row.save(update_fields=fields)
    _forget_pair(row.symbol)
    return row


def pair_set_status(*, pair: Pair, status: str) -> Pair:
    """Change a pair's trading status; the matcher reads it before each batch."""
    row = pair_update(pair=pair, status=status)
    pair.status = row.status
    return row
