"""A deliberately naive reference book for differential testing.

A plain list of orders, re-sorted on every step; FOK by simulate-and-roll-
back; hold caps by decrementing one lot at a time.  Slow and obvious, so the
engine's data structures and closed forms are checked against it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from apps.matching.engine import BookConfig, Side, Stp, TimeInForce


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class ROrder:
    oid: int
    acc: int
    buy: bool
    price: int  # 0 for market
    rem: int  # huge for funds orders
    hold: int
    cap: int
    stp: Stp
    seq: int
    filled: int = 0
    tq: int = 0
    mq: int = 0
    fee: int = 0
    spent: int = 0


@dataclass
class RefBook:
    cfg: BookConfig
    orders: list[ROrder] = field(default_factory=list)
    seq: int = 0
    last: int | None = None
    # Outputs of the last command.
    trades: list[tuple[int, ...]] = field(default_factory=list)
    dones: list[tuple[object, ...]] = field(default_factory=list)
    cancels: list[tuple[int, str, int]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)

    def _opp(self, buy: bool) -> list[ROrder]:
        if buy:
            return sorted(
                (o for o in self.orders if not o.buy), key=lambda o: (o.price, o.seq)
            )
        return sorted(
            (o for o in self.orders if o.buy), key=lambda o: (-o.price, o.seq)
        )

    def book(self) -> list[tuple[int, int]]:
        bids = sorted(
            (o for o in self.orders if o.buy), key=lambda o: (-o.price, o.seq)
        )
        asks = sorted(
            (o for o in self.orders if not o.buy), key=lambda o: (o.price, o.seq)
        )
        return [(o.oid, o.rem) for o in bids + asks]

    def _due(self, o: ROrder) -> int:
        return ceil_div(
            o.tq * self.cfg.taker_fee_bps + o.mq * self.cfg.maker_fee_bps, 10000
        )

    def _done(self, o: ROrder, reason: str) -> None:
        self.dones.append(
            (o.oid, reason, o.filled, o.tq + o.mq, o.fee, o.hold - o.spent)
        )

    def _cancel(self, o: ROrder, reason: str, rem: int) -> None:
        self.cancels.append((o.oid, reason, rem))
        self._done(o, "cancelled")

    def _taker_cost(self, t: ROrder, notional: int) -> int:
        t2 = copy.copy(t)
        t2.tq += notional
        return notional + self._due(t2) - t.fee

    def _fill(self, t: ROrder, m: ROrder, q: int) -> None:
        k = self.cfg.quote_per_tick_lot
        notional = m.price * q * k
        cost = self._taker_cost(t, notional)
        t.tq += notional
        tfee = self._due(t) - t.fee
        t.fee += tfee
        m.mq += notional
        mfee = self._due(m) - m.fee
        m.fee += mfee
        if t.buy:
            t.spent += cost
            m.spent += q
        else:
            t.spent += q
            m.spent += notional + mfee
        t.rem -= q
        m.rem -= q
        t.filled += q
        m.filled += q
        self.trades.append((m.oid, t.oid, m.price, q, notional, mfee, tfee))
        self.last = m.price
        if m.rem == 0:
            self.orders.remove(m)
            self._done(m, "filled")

    def _match(self, t: ROrder, ok: callable) -> str | None:  # type: ignore[valid-type]
        k = self.cfg.quote_per_tick_lot
        while t.rem > 0:
            opp = self._opp(t.buy)
            if not opp:
                return "no_liquidity"
            m = opp[0]
            if not ok(m.price):
                return "limit"
            if m.acc == t.acc:
                if t.stp is not Stp.CANCEL_NEWEST:
                    self.orders.remove(m)
                    self._cancel(m, "self_trade", m.rem)
                if t.stp is Stp.CANCEL_OLDEST:
                    continue
                return "self_trade"
            q = min(t.rem, m.rem)
            if t.buy:
                while q > 0 and t.spent + self._taker_cost(t, m.price * q * k) > t.cap:
                    q -= 1
            else:
                q = min(q, t.cap - t.spent)
            if q <= 0:
                return "hold_exhausted"
            self._fill(t, m, q)
        return None

    def place(
        self,
        oid: int,
        acc: int,
        side: Side,
        price: int | None,
        size: int | None,
        funds: int | None,
        tif: TimeInForce,
        post_only: bool,
        stp: Stp,
        hold: int,
    ) -> None:
        self.trades, self.dones, self.cancels, self.rejects = [], [], [], []
        buy = side is Side.BUY
        self.seq += 1
        cap = min(funds, hold) if funds is not None else hold
        t = ROrder(
            oid,
            acc,
            buy,
            price or 0,
            size if size is not None else 1 << 62,
            hold,
            cap,
            stp,
            self.seq,
        )
        opp = self._opp(buy)
        if price is None:
            if not opp:
                return self._reject(t, "no_liquidity")
            ref = opp[0].price
            band = self.cfg.price_band_bps
            if buy:

                def ok(p: int) -> bool:
                    return p * 10000 <= ref * (10000 + band)
            else:

                def ok(p: int) -> bool:
                    return p * 10000 >= ref * (10000 - band)
        else:

            def ok(p: int) -> bool:
                return p <= price if buy else p >= price

            if post_only and opp and ok(opp[0].price):
                return self._reject(t, "post_only_would_take")
        if tif is TimeInForce.FOK:
            trial = copy.deepcopy(self)
            if trial._match(copy.copy(t), ok) is not None:
                return self._reject(t, "fok_not_fillable")
        reason = self._match(t, ok)
        self._finish(t, reason, price is None, funds is not None, tif)

    def _reject(self, t: ROrder, reason: str) -> None:
        self.rejects.append((t.oid, reason))
        self._done(t, "rejected")

    def _finish(
        self,
        t: ROrder,
        reason: str | None,
        market: bool,
        by_funds: bool,
        tif: TimeInForce,
    ) -> None:
        rem = 0 if by_funds else t.rem
        if reason is None or (reason == "hold_exhausted" and by_funds and t.filled):
            return self._done(t, "filled")
        if market:
            return self._cancel(t, "price_band" if reason == "limit" else reason, rem)
        if reason in ("self_trade", "hold_exhausted"):
            return self._cancel(t, reason, rem)
        if tif is TimeInForce.IOC:
            return self._cancel(t, "ioc_remainder", rem)
        k, cfg = self.cfg.quote_per_tick_lot, self.cfg
        if t.buy:
            n = t.rem * t.price * k
            worst = max(cfg.taker_fee_bps, cfg.maker_fee_bps, 0)
            need = (
                n
                + ceil_div(
                    t.tq * cfg.taker_fee_bps + t.mq * cfg.maker_fee_bps + n * worst,
                    10000,
                )
                - t.fee
            )
        else:
            need = t.rem
        if t.hold - t.spent < need:
            return self._cancel(t, "hold_exhausted", rem)
        self.orders.append(t)

    def cancel(self, oid: int, acc: int) -> bool:
        self.trades, self.dones, self.cancels, self.rejects = [], [], [], []
        for o in self.orders:
            if o.oid == oid and o.acc == acc:
                self.orders.remove(o)
                self._cancel(o, "user_cancelled", o.rem)
                return True
        return False
