"""Assets, pairs and the public market-events journal.

Amounts are integers: an asset's minor unit is 10**-scale of one unit. A pair's
price grid is ``tick_size`` quote minor units per one whole base unit, its size
grid ``lot_size`` base minor units. Pairs are only valid when one tick times one
lot is a whole number of quote minor units (``quote_per_tick_lot``), so every
notional the matcher computes is an exact integer.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.core.fields import JSONTextField
from apps.core.money import format_units, parse_units
from apps.matching import engine as eng


class Asset(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=64)
    scale = models.PositiveSmallIntegerField(
        help_text="Decimals of the minor unit (BTC: 8)."
    )
    circulating_supply = models.PositiveBigIntegerField(
        default=0, help_text="Whole units in circulation, for market cap."
    )
    deposit_enabled = models.BooleanField(default=True)
    withdraw_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scale__lte=18), name="asset_scale_lte_18"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class PairStatus(models.TextChoices):
    TRADING = "trading", "Trading"
    CANCEL_ONLY = "cancel_only", "Cancel only"
    HALTED = "halted", "Halted"


class Pair(models.Model):
    symbol = models.CharField(max_length=32, unique=True)
    base = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="base_pairs")
    quote = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="quote_pairs"
    )
    tick_size = models.BigIntegerField(help_text="Price step, in quote minor units.")
    lot_size = models.BigIntegerField(help_text="Size step, in base minor units.")
    min_size = models.BigIntegerField(help_text="Smallest order, in base minor units.")
    min_notional = models.BigIntegerField(
        default=0, help_text="Smallest price x size, in quote minor units."
    )
    maker_fee_bps = models.IntegerField(default=10)
    taker_fee_bps = models.IntegerField(default=20)
    price_band_bps = models.IntegerField(
        default=500, help_text="Market orders never trade beyond best price +/- this."
    )
    status = models.CharField(
        max_length=16, choices=PairStatus.choices, default=PairStatus.TRADING
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=Q(tick_size__gt=0), name="pair_tick_gt_0"),
            models.CheckConstraint(condition=Q(lot_size__gt=0), name="pair_lot_gt_0"),
            models.CheckConstraint(
                condition=Q(min_size__gt=0), name="pair_min_size_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(min_notional__gte=0), name="pair_min_notional_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(taker_fee_bps__gte=0) & Q(taker_fee_bps__lte=1000),
                name="pair_taker_fee_range",
            ),
            models.CheckConstraint(
                # No maker rebates yet: the fee account would have to be funded.
                condition=Q(maker_fee_bps__gte=0) & Q(maker_fee_bps__lte=1000),
                name="pair_maker_fee_range",
            ),
            models.CheckConstraint(
                condition=Q(price_band_bps__gt=0) & Q(price_band_bps__lt=10000),
                name="pair_band_range",
            ),
            models.CheckConstraint(
                condition=~Q(base=models.F("quote")), name="pair_base_ne_quote"
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def quote_per_tick_lot(self) -> int:
        """Quote minor units of one tick of price times one lot of size."""
        return self.tick_size * self.lot_size // 10**self.base.scale

    def book_config(self) -> eng.BookConfig:
        """The pair's rules as the engine takes them (the engine is a pure
        library any layer may call: the API computes holds with it)."""
        return eng.BookConfig(
            quote_per_tick_lot=self.quote_per_tick_lot,
            maker_fee_bps=self.maker_fee_bps,
            taker_fee_bps=self.taker_fee_bps,
            price_band_bps=self.price_band_bps,
        )

    def held_asset_id(self, side: str) -> int:
        """The asset an order on ``side`` holds until it is done: a buy pays
        in the quote, a sell delivers the base. The one place this is decided."""
        return self.quote_id if side == "buy" else self.base_id

    def held_asset(self, side: str) -> Asset:
        """``held_asset_id`` as the Asset (uses the cached base/quote)."""
        return self.quote if side == "buy" else self.base

    def format_price(self, ticks: int) -> str:
        """A price in ticks as the quote's decimal string, e.g. "63000.010000"."""
        return format_units(ticks * self.tick_size, self.quote.scale)

    def format_size(self, lots: int) -> str:
        """A size in lots as the base's decimal string, e.g. "0.01000000"."""
        return format_units(lots * self.lot_size, self.base.scale)

    def parse_price(self, text: str) -> int:
        """``format_price`` undone: a price this system wrote (a journal
        payload, say) back in ticks. ValueError off the tick grid."""
        return _on_grid(
            parse_units(text, self.quote.scale, field="price"), self.tick_size
        )

    def parse_size(self, text: str) -> int:
        """``format_size`` undone: a size this system wrote back in lots.
        ValueError off the lot grid."""
        return _on_grid(parse_units(text, self.base.scale, field="size"), self.lot_size)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.base_id and self.quote_id:
            if (self.tick_size * self.lot_size) % 10**self.base.scale:
                errors["lot_size"] = (
                    "tick_size x lot_size must be a multiple of 10^base.scale so that "
                    "every notional is a whole number of quote minor units."
                )
        if self.lot_size and self.min_size % self.lot_size:
            errors["min_size"] = "min_size must be a multiple of lot_size."
        if self.maker_fee_bps > self.taker_fee_bps:
            errors["maker_fee_bps"] = "The maker fee may not exceed the taker fee."
        if errors:
            raise ValidationError(errors)


def _on_grid(units: int, step: int) -> int:
    steps, rest = divmod(units, step)
    if rest:
        raise ValueError(f"{units} is not a multiple of {step}")
    return steps


class MarketEvent(models.Model):
    """Public events of a pair, written by the matcher in its settlement
    transaction with a gap-free per-pair sequence; the streams' source of truth."""

    # No index of its own: market_event_pair_seq starts with it (and serves a
    # newest-first read by scanning backwards). Each index is one more write
    # per event in the matcher's batches.
    pair = models.ForeignKey(
        Pair, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    seq = models.BigIntegerField()
    type = models.CharField(max_length=32)
    # json, not jsonb: written by COPY in every settled batch, never queried
    # inside (apps/core/fields.py).
    payload = JSONTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pair", "seq"], name="market_event_pair_seq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pair_id}#{self.seq} {self.type}"
