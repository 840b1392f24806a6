"""Fee, hold and price-band arithmetic.  Integers only.

Fee rule (cumulative per order): after each fill,
``due = ceil((taker_quote * taker_bps + maker_quote * maker_bps) / 10000)``
where ``taker_quote``/``maker_quote`` are the order's cumulative notional as
taker/as maker; the fill's fee is ``due - fee_charged_so_far``.  Splitting an
order into fills therefore never changes its total fee.  ``ceil`` (Python's
``-(-a // b)``) rounds a charge up and a rebate toward zero, so the exchange
never pays out more than it collects.
"""

from __future__ import annotations

from .types import BPS, BookConfig


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for b > 0, exact for any sign of a."""
    return -(-a // b)


def fee_due(taker_quote: int, maker_quote: int, cfg: BookConfig) -> int:
    """Total fee due for an order with these cumulative notionals."""
    num = taker_quote * cfg.taker_fee_bps + maker_quote * cfg.maker_fee_bps
    return -(-num // BPS)


def max_fee_bps(cfg: BookConfig) -> int:
    """Highest rate any fill can be charged (never negative)."""
    return max(cfg.taker_fee_bps, cfg.maker_fee_bps, 0)


def buy_limit_hold(price: int, size: int, cfg: BookConfig) -> int:
    """Quote units to hold for a limit BUY of ``size`` lots at ``price``.

    ``notional + ceil(notional * max(taker_bps, maker_bps, 0) / 10000)``: enough
    for any mix of taker and maker fills at or below ``price``.  (With the
    usual maker <= taker this is ``notional + ceil(notional*taker_bps/10000)``.)
    """
    notional = price * size * cfg.quote_per_tick_lot
    return notional + -(-notional * max_fee_bps(cfg) // BPS)


def band_limit(ref: int, is_buy: bool, band_bps: int) -> int:
    """Worst price a market order may trade at, given reference ``ref``.

    Rounded inward, so no trade is ever worse than the exact bound:
    buy ``floor(ref * (10000 + band) / 10000)``,
    sell ``ceil(ref * (10000 - band) / 10000)``.
    """
    if is_buy:
        return ref * (BPS + band_bps) // BPS
    return -(-ref * (BPS - band_bps) // BPS)


def affordable_lots(
    avail: int, unit: int, fee_base: int, fee_charged: int, taker_bps: int
) -> int:
    """Largest q >= 0 a taker BUY can pay for with ``avail`` quote units.

    A fill of q lots at ``unit`` quote per lot costs
    ``q*unit + ceil((fee_base + q*unit*taker_bps) / 10000) - fee_charged``,
    where ``fee_base`` is the order's fee numerator so far.  Since
    ``ceil(x/d) <= m  <=>  x <= d*m`` for integers, the bound is exact.
    """
    q = (BPS * (avail + fee_charged) - fee_base) // (unit * (BPS + taker_bps))
    return q if q > 0 else 0


def buy_cover_needed(
    remaining: int,
    price: int,
    taker_quote: int,
    maker_quote: int,
    fee_charged: int,
    cfg: BookConfig,
) -> int:
    """Quote a resting BUY still needs to fill ``remaining`` lots at ``price``
    in the worst case (every future fill at the highest fee rate)."""
    notional = remaining * price * cfg.quote_per_tick_lot
    num = (
        taker_quote * cfg.taker_fee_bps
        + maker_quote * cfg.maker_fee_bps
        + notional * max_fee_bps(cfg)
    )
    return notional + -(-num // BPS) - fee_charged


def buy_amend_hold(
    filled_quote: int,
    price: int,
    remaining: int,
    old_price: int,
    old_remaining: int,
    cfg: BookConfig,
) -> int:
    """What an amended resting BUY must hold in all (spent plus cover), at
    most: the API holds this much before the amend is queued, the engine
    keeps what is exactly needed when it applies it and releases the rest.

    The order has ``filled_quote`` spent on fills (before fees); after the
    amend it has ``remaining`` lots at ``price``. Until the matcher applies
    the amend the order may still fill at ``old_price`` (the API read a
    snapshot): up to ``min(old_remaining, remaining - 1)`` more lots, each
    costing ``old_price`` instead of ``price``, so a lower new price needs
    that difference on top. Fees are counted at the highest rate."""
    k = cfg.quote_per_tick_lot
    total = filled_quote + remaining * price * k
    if old_price > price:
        total += min(old_remaining, max(remaining - 1, 0)) * (old_price - price) * k
    return total + -(-total * max_fee_bps(cfg) // BPS)
