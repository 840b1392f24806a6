"""The matching loop: one taker against the opposite side of the book.

This is the hot path.  It is written as one loop over locals, creates only the
events it emits, and never lets a taker's ``spent`` exceed its ``cap``.
Resting orders need no such check: an order only rests when its hold covers
its remainder at its limit price at the highest fee rate, and every maker
fill keeps that true (see docs/matching-engine.md).
"""

from __future__ import annotations

from .book import BookSide, Level, Order
from .events import Cancelled as _Cancelled
from .events import Done, Event, Trade
from .fees import affordable_lots
from .reasons import DoneReason, Reason
from .types import BPS, BookConfig, InvariantError, Side, Stp

_new = tuple.__new__
_FILLED = DoneReason.FILLED
_CANCELLED = DoneReason.CANCELLED
_SELF_TRADE = Reason.SELF_TRADE
_CANCEL_NEWEST = Stp.CANCEL_NEWEST
_CANCEL_OLDEST = Stp.CANCEL_OLDEST
_BUY = Side.BUY
_SELL = Side.SELL

# Why a taker stopped matching (None: fully filled).
LIMIT_REACHED = Reason.PRICE_BAND
EMPTY_BOOK = Reason.NO_LIQUIDITY
SELF_TRADE = Reason.SELF_TRADE
EXHAUSTED = Reason.HOLD_EXHAUSTED


class Matcher:
    """Both sides of one book, the resting-order index, and the loop."""

    __slots__ = ("bids", "asks", "index", "touched", "last", "k", "tb", "mb")

    def __init__(self, cfg: BookConfig) -> None:
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)
        self.index: dict[int, Order] = {}
        # Signed keys (+ask price, -bid price) of levels changed by the
        # current command, in first-touch order.
        self.touched: dict[int, None] = {}
        self.last: int | None = None
        self.k = cfg.quote_per_tick_lot
        self.tb = cfg.taker_fee_bps
        self.mb = cfg.maker_fee_bps

    def rest(self, o: Order) -> None:
        """Put ``o`` at the back of its level and index it (BookSide.add,
        inlined: this runs for most commands)."""
        side = self.bids if o.is_buy else self.asks
        price = o.price
        lvl = side.levels.get(price)
        if lvl is None:
            lvl = side.levels[price] = Level(price)
            side.keys.add(side.sign * price)
        lvl.orders.append(o)
        lvl.total += o.remaining
        self.index[o.order_id] = o
        self.touched[side.sign * price] = None

    def cancel_resting(self, o: Order) -> int:
        """Take live resting ``o`` out of the book; return its remainder."""
        side = self.bids if o.is_buy else self.asks
        rem = o.remaining
        del self.index[o.order_id]
        self.touched[side.sign * o.price] = None
        side.cancel(o)
        return rem

    def fok_fillable(self, t: Order, opp: BookSide, limit_key: int) -> bool:
        """Would ``t`` fill completely right now?  Read-only dry run with the
        same price, self-trade and hold rules as ``match``."""
        need = t.remaining
        notional = 0
        acc = t.account_id
        skip_own = t.stp is _CANCEL_OLDEST
        levels = opp.levels
        sign = opp.sign
        for key in opp.keys:
            if key > limit_key or not need:
                break
            price = key * sign
            for m in levels[price].orders:
                mr = m.remaining
                if not mr:
                    continue
                if m.account_id == acc:
                    if skip_own:
                        continue
                    return False
                q = need if need < mr else mr
                notional += q * price * self.k
                need -= q
                if not need:
                    break
        if need:
            return False
        if not t.is_buy:
            return t.spent + t.remaining <= t.cap
        num = (t.taker_quote + notional) * self.tb + t.maker_quote * self.mb
        return t.spent + notional + -(-num // BPS) - t.fee <= t.cap

    def match(
        self, t: Order, opp: BookSide, limit_key: int, ev: list[Event], ts: int
    ) -> Reason | None:
        """Match taker ``t`` against ``opp`` while ``key <= limit_key``.

        Emits Trade/Done (makers) and STP Cancelled/Done events into ``ev`` and
        updates ``t``.  Returns None when ``t`` is filled, else why it stopped:
        LIMIT_REACHED, EMPTY_BOOK, SELF_TRADE (taker must be cancelled) or
        EXHAUSTED (its cap cannot pay for another lot).

        One long function on purpose: in CPython, locals are much cheaper
        than attribute lookups and calls, and this loop runs for every fill.
        """
        k = self.k
        tb = self.tb
        mb = self.mb
        keys = opp.keys
        chunks = opp.chunks
        levels = opp.levels
        sign = opp.sign
        index = self.index
        touched = self.touched
        t_buy = t.is_buy
        t_side = _BUY if t_buy else _SELL
        t_id = t.order_id
        t_acc = t.account_id
        rem = t.remaining
        append = ev.append
        reason: Reason | None = None
        last = 0  # price of the latest trade, 0 if none
        while rem:
            if not chunks:
                reason = EMPTY_BOOK
                break
            key = chunks[0][0]
            if key > limit_key:
                reason = LIMIT_REACHED
                break
            price = key * sign
            lvl = levels[price]
            total_before = lvl.total
            dq = lvl.orders
            unit = price * k
            while dq:
                m = dq[0]
                mr = m.remaining
                if not mr:
                    dq.popleft()
                    lvl.dead -= 1
                    continue
                if m.account_id == t_acc:
                    if t.stp is not _CANCEL_NEWEST:
                        dq.popleft()
                        del index[m.order_id]
                        lvl.total -= mr
                        m.remaining = 0
                        append(
                            _new(_Cancelled, (m.order_id, t_acc, _SELF_TRADE, mr, ts))
                        )
                        append(done_event(m, _CANCELLED))
                        if t.stp is _CANCEL_OLDEST:
                            continue
                    reason = SELF_TRADE
                    break
                q = rem if rem < mr else mr
                notional = unit * q
                # Fee numerators (x10000) so far; see fees.py for the rule.
                tbase = t.taker_quote * tb + t.maker_quote * mb
                tdue = -(-(tbase + notional * tb) // BPS)
                if t_buy:
                    cost = notional + tdue - t.fee
                    if t.spent + cost > t.cap:
                        q = affordable_lots(t.cap - t.spent, unit, tbase, t.fee, tb)
                        if not q:
                            reason = EXHAUSTED
                            break
                        notional = unit * q
                        tdue = -(-(tbase + notional * tb) // BPS)
                        cost = notional + tdue - t.fee
                elif t.spent + q > t.cap:
                    q = t.cap - t.spent
                    if q <= 0:
                        reason = EXHAUSTED
                        break
                    notional = unit * q
                    tdue = -(-(tbase + notional * tb) // BPS)
                mdue = -(-(m.taker_quote * tb + (m.maker_quote + notional) * mb) // BPS)
                mfee = mdue - m.fee
                if t_buy:
                    t.spent += cost
                    m.spent += q
                else:
                    t.spent += q
                    m.spent += notional + mfee
                tfee = tdue - t.fee
                t.fee = tdue
                t.taker_quote += notional
                t.filled_size += q
                rem -= q
                m.fee = mdue
                m.maker_quote += notional
                m.filled_size += q
                m.remaining = mr - q
                lvl.total -= q
                append(
                    _new(
                        Trade,
                        (
                            m.order_id,
                            t_id,
                            m.account_id,
                            t_acc,
                            price,
                            q,
                            notional,
                            mfee,
                            tfee,
                            t_side,
                            ts,
                        ),
                    )
                )
                last = price
                if q == mr:
                    dq.popleft()
                    del index[m.order_id]
                    append(done_event(m, _FILLED))
                if not rem:
                    break
            if lvl.total != total_before:
                touched[key] = None
            if not lvl.total:
                keys.pop(0)
                del levels[price]
            elif not dq:
                raise InvariantError(f"level {price} has size but no orders")
            if reason is not None:
                break
        t.remaining = rem
        if last:
            self.last = last
        return reason


def done_event(o: Order, reason: DoneReason) -> Event:
    """The Done event closing ``o`` (the engine's and the matching loop's)."""
    return _new(
        Done,
        (
            o.order_id,
            o.account_id,
            reason,
            o.filled_size,
            o.taker_quote + o.maker_quote,
            o.fee,
            o.hold - o.spent,
        ),
    )
