"""Amends: a resting order shrunk in place (priority kept) or cancel-replaced
under the same id (priority lost); see docs/matching-engine.md, "Amend".

``Amending`` sits between BookState and Engine: it needs the book's state
and the engine's ``_after_match`` (a replacement ends like any limit taker).
"""

from __future__ import annotations

from .book import Order
from .commands import AmendOrder, PlaceOrder
from .events import Amended, AmendRejected, Event
from .fees import buy_cover_needed
from .match import LIMIT_REACHED
from .reasons import Reason
from .state import BookState
from .types import OrderType, Side

_BUY = Side.BUY
_SELL = Side.SELL
_LIMIT = OrderType.LIMIT


class Amending(BookState):
    """Applies AmendOrder; Engine adds the rest of the commands."""

    def _after_match(
        self,
        cmd: PlaceOrder,
        o: Order,
        reason: Reason | None,
        ev: list[Event],
        now: int,
    ) -> None:
        raise NotImplementedError  # Engine's

    def _amend(self, cmd: AmendOrder, ev: list[Event]) -> None:
        """Shrink in place (same price, smaller size: priority kept) or
        cancel-replace under the same id (priority lost). Every check comes
        first, so a rejected amend leaves the order as it was."""
        o = self._m.index.get(cmd.order_id)
        reason = self._amend_refusal(cmd, o)
        if reason is not None or o is None:
            reason = reason or Reason.ORDER_NOT_FOUND
            released = max(cmd.hold_add, 0)
            ev.append(
                AmendRejected(cmd.order_id, cmd.account_id, reason, released, cmd.ts)
            )
            return
        remaining = cmd.size - o.filled_size
        hold = o.spent + self._need(o, cmd.price, remaining)
        in_place = cmd.price == o.price and remaining <= o.remaining
        ev.append(
            Amended(
                o.order_id,
                o.account_id,
                cmd.price,
                cmd.size,
                remaining,
                o.filled_size,
                hold,
                o.hold + cmd.hold_add - hold,
                not in_place,
                cmd.ts,
            )
        )
        if in_place:
            self._shrink(o, remaining, hold)
        else:
            self._replace(o, cmd, remaining, hold, ev)

    def _shrink(self, o: Order, remaining: int, hold: int) -> None:
        """``o`` keeps its place in its level with fewer lots and less hold."""
        side = self._m.bids if o.is_buy else self._m.asks
        if remaining != o.remaining:
            side.levels[o.price].total -= o.remaining - remaining
            self._m.touched[side.sign * o.price] = None
        o.remaining, o.hold, o.cap = remaining, hold, hold

    def _replace(
        self, o: Order, cmd: AmendOrder, remaining: int, hold: int, ev: list[Event]
    ) -> None:
        """Take ``o`` off the book and enter its replacement (same id, fill
        state, ts and STP mode) as a limit taker: it may trade at once, then
        rests at the back of its level (or ends, as any taker would)."""
        m = self._m
        m.cancel_resting(o)
        n = Order(o.order_id, o.account_id, o.is_buy, cmd.price, remaining, hold, hold, o.ts, o.stp)  # fmt: skip
        n.filled_size, n.spent, n.fee = o.filled_size, o.spent, o.fee
        n.taker_quote, n.maker_quote = o.taker_quote, o.maker_quote
        replacement = PlaceOrder(
            order_id=o.order_id, account_id=o.account_id,
            side=_BUY if o.is_buy else _SELL, type=_LIMIT, size=cmd.size,
            price=cmd.price, post_only=cmd.post_only, stp=o.stp, hold=hold,
            ts=o.ts,
        )  # fmt: skip
        opp = m.asks if o.is_buy else m.bids
        limit_key = opp.sign * cmd.price
        crosses = bool(opp.chunks) and opp.chunks[0][0] <= limit_key
        reason = m.match(n, opp, limit_key, ev, cmd.ts) if crosses else LIMIT_REACHED
        self._after_match(replacement, n, reason, ev, cmd.ts)

    def _amend_refusal(self, cmd: AmendOrder, o: Order | None) -> Reason | None:
        """Why ``cmd`` cannot apply to ``o`` (None: it can)."""
        if o is None or o.account_id != cmd.account_id:
            return Reason.ORDER_NOT_FOUND
        if cmd.price <= 0 or cmd.size <= 0 or cmd.hold_add < 0:
            return Reason.INVALID_ORDER
        remaining = cmd.size - o.filled_size
        if remaining <= 0:
            return Reason.SIZE_BELOW_FILLED
        if o.hold + cmd.hold_add - o.spent < self._need(o, cmd.price, remaining):
            return Reason.HOLD_EXHAUSTED
        in_place = cmd.price == o.price and remaining <= o.remaining
        if cmd.post_only and not in_place:
            opp = self._m.asks if o.is_buy else self._m.bids
            if opp.chunks and opp.chunks[0][0] <= opp.sign * cmd.price:
                return Reason.POST_ONLY_WOULD_TAKE
        return None

    def _need(self, o: Order, price: int, remaining: int) -> int:
        """What ``o`` would still need to hold with ``remaining`` lots at
        ``price``, worst case (its fill state unchanged)."""
        if not o.is_buy:
            return remaining
        return buy_cover_needed(
            remaining, price, o.taker_quote, o.maker_quote, o.fee, self.cfg
        )
