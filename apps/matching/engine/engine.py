"""The engine: one pair's book, its stops, and the order lifecycle.

``Engine.process(cmd)`` applies one command and returns its events.  It is
deterministic (time and ids come with the command), does no I/O, and raises
only on a broken invariant; business outcomes are events with a Reason.
"""

from __future__ import annotations

from .amend import Amending
from .book import Order
from .commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .events import (
    Accepted,
    BookDelta,
    Cancelled,
    CancelRejected,
    Done,
    Event,
    Rejected,
    StopTriggered,
)
from .fees import band_limit, max_fee_bps
from .match import EXHAUSTED, LIMIT_REACHED, done_event
from .reasons import DoneReason, Reason
from .types import (
    BPS,
    BookConfig,
    InvariantError,
    OrderType,
    Side,
    TimeInForce,
)
from .validate import is_valid

_new = tuple.__new__
_BUY = Side.BUY
_SELL = Side.SELL
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_STOP = OrderType.STOP
_STOP_LIMIT = OrderType.STOP_LIMIT
_GTC = TimeInForce.GTC
_FOK = TimeInForce.FOK
_FILLED = DoneReason.FILLED
_CANCELLED = DoneReason.CANCELLED
_REJECTED = DoneReason.REJECTED
_SELF_TRADE = Reason.SELF_TRADE
# Remaining size of a market buy by funds: its cap, not its size, stops it.
_UNBOUNDED = 1 << 62


class Engine(Amending):
    """Price-time priority matching engine for one pair.

    Queries, restore, ``state_hash`` and ``check_invariants`` come from
    BookState (state.py), amends from Amending (amend.py); this class
    applies the other commands.
    """

    def __init__(self, cfg: BookConfig) -> None:
        super().__init__(cfg)
        self._k = cfg.quote_per_tick_lot
        self._tb = cfg.taker_fee_bps
        self._mb = cfg.maker_fee_bps
        self._maxb = max_fee_bps(cfg)
        # Direct references for the per-command checks.
        self._index = self._m.index
        self._stop_ids = self._stops.by_id

    # ------------------------------------------------------------ commands
    def process(self, cmd: Command) -> list[Event]:
        """Apply one command; return its events in order (BookDeltas last)."""
        ev: list[Event] = []
        if type(cmd) is PlaceOrder:
            self._place(cmd, ev)
        elif type(cmd) is CancelOrder:
            self._cancel(cmd, ev)
        elif type(cmd) is AmendOrder:
            self._amend(cmd, ev)
        else:
            raise TypeError(f"not an engine command: {cmd!r}")
        m = self._m
        if self._stop_ids and m.last is not None:
            self._run_stops(cmd.ts, ev)
        touched = m.touched
        if touched:
            bids = m.bids.levels
            asks = m.asks.levels
            for key in touched:
                if key > 0:
                    lvl = asks.get(key)
                    ev.append(_new(BookDelta, (_SELL, key, lvl.total if lvl else 0)))
                else:
                    lvl = bids.get(-key)
                    ev.append(_new(BookDelta, (_BUY, -key, lvl.total if lvl else 0)))
            touched.clear()
        return ev

    def _place(self, cmd: PlaceOrder, ev: list[Event]) -> None:
        oid = cmd.order_id
        if oid in self._index or oid in self._stop_ids:
            # No Done: the id is a live order whose hold must stay held.
            ev.append(Rejected(oid, cmd.account_id, Reason.DUPLICATE_ORDER_ID, cmd.ts))
            return
        if not is_valid(cmd):
            ev.append(Rejected(oid, cmd.account_id, Reason.INVALID_ORDER, cmd.ts))
            ev.append(Done(oid, cmd.account_id, _REJECTED, 0, 0, 0, max(cmd.hold, 0)))
            return
        if cmd.type is _STOP or cmd.type is _STOP_LIMIT:
            ev.append(_accepted(cmd))
            self._stops.add(cmd)
            return
        self._execute(cmd, ev, cmd.ts, False)

    def _execute(
        self, cmd: PlaceOrder, ev: list[Event], now: int, accepted: bool
    ) -> None:
        """Run a limit or market order (possibly a triggered stop): the
        pre-trade checks, then the matching loop unless the order is passive
        (the common case, which skips the loop entirely)."""
        m = self._m
        is_buy = cmd.side is _BUY
        opp = m.asks if is_buy else m.bids
        funds = cmd.funds
        hold = cmd.hold
        size = cmd.size
        o = Order(
            cmd.order_id,
            cmd.account_id,
            is_buy,
            cmd.price or 0,
            size if size is not None else _UNBOUNDED,
            hold,
            hold if funds is None or funds > hold else funds,
            cmd.ts,
            cmd.stp,
        )
        chunks = opp.chunks
        best = chunks[0][0] if chunks else None
        kind = cmd.type
        if kind is _LIMIT or kind is _STOP_LIMIT:
            limit_key = opp.sign * o.price
            crosses = best is not None and best <= limit_key
            if crosses and cmd.post_only:
                return self._end(
                    o, funds, Reason.POST_ONLY_WOULD_TAKE, accepted, ev, now
                )
        elif best is None:
            return self._end(o, funds, Reason.NO_LIQUIDITY, accepted, ev, now)
        else:
            ref = best * opp.sign
            limit_key = opp.sign * band_limit(ref, is_buy, self.cfg.price_band_bps)
            crosses = True
        if cmd.tif is _FOK and not m.fok_fillable(o, opp, limit_key):
            return self._end(o, funds, Reason.FOK_NOT_FILLABLE, accepted, ev, now)
        if not accepted:
            ev.append(_accepted(cmd))
        reason = m.match(o, opp, limit_key, ev, now) if crosses else LIMIT_REACHED
        self._after_match(cmd, o, reason, ev, now)

    def _after_match(
        self,
        cmd: PlaceOrder,
        o: Order,
        reason: Reason | None,
        ev: list[Event],
        now: int,
    ) -> None:
        """Decide the taker's fate: done, cancelled (with why), or resting."""
        funds = cmd.funds
        if reason is None or (
            reason is EXHAUSTED and funds is not None and o.filled_size
        ):
            # Filled; a market buy by funds is filled when no lot is affordable.
            ev.append(done_event(o, _FILLED))
        elif cmd.type is _MARKET or cmd.type is _STOP:
            self._end(o, funds, reason, True, ev, now)  # market orders never rest
        elif reason is EXHAUSTED or reason is _SELF_TRADE:
            self._end(o, funds, reason, True, ev, now)
        elif cmd.tif is _GTC:
            if o.hold - o.spent >= self._cover_needed(o):
                self._m.rest(o)
            else:
                self._end(o, None, Reason.HOLD_EXHAUSTED, True, ev, now)
        elif cmd.tif is _FOK:
            raise InvariantError(
                f"FOK order {o.order_id} passed its dry run but not filled"
            )
        else:
            self._end(o, funds, Reason.IOC_REMAINDER, True, ev, now)

    def _cover_needed(self, o: Order) -> int:
        """What a limit remainder may still spend in the worst case: lots
        for a sell; for a buy its notional at its limit plus the fee due if
        every future fill pays the highest rate.  fees.buy_cover_needed
        inlined (about 5% of throughput); check_invariants uses that one, so
        the two are cross-checked after every test step."""
        if not o.is_buy:
            return o.remaining
        notional = o.remaining * o.price * self._k
        num = (
            o.taker_quote * self._tb + o.maker_quote * self._mb + notional * self._maxb
        )
        return notional + -(-num // BPS) - o.fee

    def _end(
        self,
        o: Order,
        funds: int | None,
        reason: Reason,
        accepted: bool,
        ev: list[Event],
        now: int,
    ) -> None:
        """Emit the order's Cancelled+Done (accepted) or Rejected+Done."""
        if accepted:
            rem = 0 if funds is not None else o.remaining
            ev.append(_new(Cancelled, (o.order_id, o.account_id, reason, rem, now)))
            ev.append(done_event(o, _CANCELLED))
        else:
            ev.append(_new(Rejected, (o.order_id, o.account_id, reason, now)))
            ev.append(done_event(o, _REJECTED))

    def _cancel(self, cmd: CancelOrder, ev: list[Event]) -> None:
        oid = cmd.order_id
        acc = cmd.account_id
        o = self._m.index.get(oid)
        if o is not None and o.account_id == acc:
            rem = self._m.cancel_resting(o)
            ev.append(_new(Cancelled, (oid, acc, cmd.reason, rem, cmd.ts)))
            ev.append(done_event(o, _CANCELLED))
            return
        stop = self._stops.by_id.get(oid)
        if stop is not None and stop.account_id == acc:
            self._stops.remove(oid)
            rem = stop.size or 0
            ev.append(Cancelled(oid, acc, cmd.reason, rem, cmd.ts))
            ev.append(Done(oid, acc, _CANCELLED, 0, 0, 0, stop.hold))
            return
        ev.append(CancelRejected(oid, acc, Reason.ORDER_NOT_FOUND, cmd.ts))

    def _run_stops(self, now: int, ev: list[Event]) -> None:
        """Trigger stops one at a time until none is triggered (cascades)."""
        m = self._m
        pop = self._stops.pop_triggered
        while m.last is not None:
            cmd = pop(m.last)
            if cmd is None:
                return
            ev.append(StopTriggered(cmd.order_id, cmd.account_id, m.last, now))
            self._execute(cmd, ev, now, True)


def _accepted(cmd: PlaceOrder) -> Event:
    return _new(
        Accepted,
        (cmd.order_id, cmd.account_id, cmd.side, cmd.type, cmd.price, cmd.size, cmd.ts),
    )
