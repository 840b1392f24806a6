"""Settlement policy: the balance changes a trade or a release makes.

Pure functions of the pair and the engine's values, no database: the batch
folds their changes in (apps/matching/batch.py) and the poison-pill rejection
applies the same release (apps/matching/processor.py), so each rule has one
home. Amounts are as the engine counts them: quote minor units, lots of the
base (a hold: ``apps/matching/adapter.engine_hold``).
"""

from __future__ import annotations

from apps.accounts.ledger import BalanceChange
from apps.accounts.models import LedgerReason, Wallet
from apps.markets.models import Pair
from apps.matching import engine as eng


def trade_changes(
    pair: Pair, trade: eng.Trade, fee_user_id: int
) -> list[BalanceChange]:
    """Both sides' settlement of one trade, fees included: the buyer's held
    quote pays the seller, the seller's held base goes to the buyer, and each
    side's fee (quote; a maker's may be a rebate) goes to ``fee_user_id``.
    The changes carry no trade id: the trade's row does not exist yet."""
    t = trade
    taker_buys = t.taker_side is eng.Side.BUY
    buyer, seller = (
        (t.taker_account_id, t.maker_account_id)
        if taker_buys
        else (t.maker_account_id, t.taker_account_id)
    )
    buyer_order, seller_order = (
        (t.taker_order_id, t.maker_order_id)
        if taker_buys
        else (t.maker_order_id, t.taker_order_id)
    )
    buyer_fee, seller_fee = (
        (t.taker_fee, t.maker_fee) if taker_buys else (t.maker_fee, t.taker_fee)
    )
    base_units = t.size * pair.lot_size
    T, F, S = LedgerReason.TRADE, LedgerReason.FEE, Wallet.SPOT
    rows = [
        BalanceChange(buyer, pair.quote_id, S, 0, -t.quote, T, order_id=buyer_order),
        BalanceChange(buyer, pair.base_id, S, base_units, 0, T, order_id=buyer_order),
        BalanceChange(
            seller, pair.base_id, S, 0, -base_units, T, order_id=seller_order
        ),
        BalanceChange(seller, pair.quote_id, S, t.quote, 0, T, order_id=seller_order),
    ]
    if buyer_fee:
        rows.append(
            BalanceChange(
                buyer, pair.quote_id, S, 0, -buyer_fee, F, order_id=buyer_order
            )
        )
    if seller_fee:
        rows.append(
            BalanceChange(
                seller, pair.quote_id, S, -seller_fee, 0, F, order_id=seller_order
            )
        )
    if buyer_fee + seller_fee:
        rows.append(
            BalanceChange(fee_user_id, pair.quote_id, S, buyer_fee + seller_fee, 0, F)
        )
    return rows


def release_change(
    pair: Pair, order_id: int, user_id: int, side: str, amount: int
) -> BalanceChange | None:
    """Give back ``amount`` of an order's hold (engine units: quote minor
    units for a buy, lots for a sell) from held to available; None when
    nothing is left to release."""
    if amount <= 0:
        return None
    asset_id = pair.held_asset_id(side)
    units = amount * pair.lot_size if asset_id == pair.base_id else amount
    return BalanceChange(
        user_id,
        asset_id,
        Wallet.SPOT,
        units,
        -units,
        LedgerReason.RELEASE,
        order_id=order_id,
    )
