"""Differential test: random streams against the naive reference book."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from apps.matching.engine import (
    BookConfig,
    Cancelled,
    CancelOrder,
    CancelRejected,
    Command,
    Done,
    Engine,
    Event,
    OrderType,
    PlaceOrder,
    Rejected,
    Side,
    Stp,
    TimeInForce,
    Trade,
    buy_limit_hold,
)

from .reference import RefBook

CFG = BookConfig(
    quote_per_tick_lot=3, maker_fee_bps=-5, taker_fee_bps=30, price_band_bps=300
)
ACCOUNTS = st.integers(1, 4)
SIDES = st.sampled_from([Side.BUY, Side.SELL])
PRICES = st.integers(95, 105)
SIZES = st.integers(1, 12)


def _out(events: list[Event]) -> tuple[list[tuple[object, ...]], ...]:
    trades = [
        (
            e.maker_order_id,
            e.taker_order_id,
            e.price,
            e.size,
            e.quote,
            e.maker_fee,
            e.taker_fee,
        )
        for e in events
        if type(e) is Trade
    ]
    dones = [
        (
            e.order_id,
            e.reason.value,
            e.filled_size,
            e.filled_quote,
            e.fee_total,
            e.released,
        )
        for e in events
        if type(e) is Done
    ]
    cancels = [
        (e.order_id, e.reason.value, e.remaining_size)
        for e in events
        if type(e) is Cancelled
    ]
    rejects = [(e.order_id, e.reason.value) for e in events if type(e) is Rejected]
    return trades, dones, cancels, rejects


class EngineVsReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(CFG)
        self.ref = RefBook(CFG)
        self.commands: list[Command] = []
        self.events: list[Event] = []
        self.next_id = 1
        self.sizes: dict[int, int] = {}  # size-based orders: order_id -> size
        self.owner: dict[int, int] = {}
        self.filled: dict[int, int] = {}
        self.gone: dict[int, int] = {}  # cancelled or rejected size

    # ------------------------------------------------------------ helpers
    def _apply(self, cmd: Command) -> list[Event]:
        self.commands.append(cmd)
        events = self.engine.process(cmd)
        self.events.extend(events)
        self.engine.check_invariants()
        for e in events:
            if type(e) is Trade:
                for oid in (e.maker_order_id, e.taker_order_id):
                    self.filled[oid] = self.filled.get(oid, 0) + e.size
            elif type(e) is Cancelled and e.order_id in self.sizes:
                self.gone[e.order_id] = self.gone.get(e.order_id, 0) + e.remaining_size
            elif type(e) is Rejected and e.order_id in self.sizes:
                self.gone[e.order_id] = self.sizes[e.order_id]
        return events

    def _compare(self, events: list[Event]) -> None:
        trades, dones, cancels, rejects = _out(events)
        assert trades == self.ref.trades
        assert sorted(dones) == sorted(self.ref.dones)
        assert sorted(cancels) == sorted(self.ref.cancels)
        assert rejects == self.ref.rejects
        assert self.engine.last_price == self.ref.last
        assert [
            (o.order_id, o.remaining_size) for o in self.engine.resting_orders()
        ] == self.ref.book()

    def _place(
        self,
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
        oid = self.next_id
        self.next_id += 1
        self.owner[oid] = acc
        if size is not None:
            self.sizes[oid] = size
        cmd = PlaceOrder(
            order_id=oid,
            account_id=acc,
            side=side,
            type=OrderType.LIMIT if price is not None else OrderType.MARKET,
            size=size,
            price=price,
            funds=funds,
            tif=tif,
            post_only=post_only,
            stp=stp,
            hold=hold,
            ts=len(self.commands),
        )
        events = self._apply(cmd)
        self.ref.place(oid, acc, side, price, size, funds, tif, post_only, stp, hold)
        self._compare(events)

    # -------------------------------------------------------------- rules
    @rule(
        acc=ACCOUNTS,
        side=SIDES,
        price=PRICES,
        size=SIZES,
        tif=st.sampled_from([TimeInForce.GTC] * 4 + [TimeInForce.IOC, TimeInForce.FOK]),
        post_only=st.booleans(),
        stp=st.sampled_from(list(Stp)),
        short=st.sampled_from([0] * 6 + [1, 7, 50]),
    )
    def limit(
        self,
        acc: int,
        side: Side,
        price: int,
        size: int,
        tif: TimeInForce,
        post_only: bool,
        stp: Stp,
        short: int,
    ) -> None:
        full = buy_limit_hold(price, size, CFG) if side is Side.BUY else size
        post_only = post_only and tif is TimeInForce.GTC and acc % 2 == 0
        self._place(
            acc, side, price, size, None, tif, post_only, stp, max(full - short, 0)
        )

    @rule(
        acc=ACCOUNTS,
        side=SIDES,
        size=SIZES,
        stp=st.sampled_from(list(Stp)),
        hold=st.integers(0, 4000),
        by_funds=st.booleans(),
    )
    def market(
        self, acc: int, side: Side, size: int, stp: Stp, hold: int, by_funds: bool
    ) -> None:
        if side is Side.BUY and by_funds:
            self._place(
                acc, side, None, None, hold or 1, TimeInForce.IOC, False, stp, hold
            )
        else:
            hold = hold if side is Side.BUY else size - (hold % 3 == 0)
            self._place(acc, side, None, size, None, TimeInForce.GTC, False, stp, hold)

    @rule(pick=st.integers(0, 10**6), foreign=st.integers(0, 5))
    def cancel(self, pick: int, foreign: int) -> None:
        oid = 1 + pick % self.next_id  # may be next_id: never placed
        owner = self.owner.get(oid, 1)
        acc = owner if foreign else owner % 4 + 1
        events = self._apply(CancelOrder(oid, acc, len(self.commands)))
        found = self.ref.cancel(oid, acc)
        if not found:
            assert [type(e) for e in events] == [CancelRejected]
        self._compare(events)

    @rule()
    def restart(self) -> None:
        """Rebuild from the open orders, as the matcher does after a restart."""
        fresh = Engine(CFG)
        for o in self.engine.resting_orders():
            fresh.restore_resting(**o.restore_kwargs())
        fresh.set_last_price(self.engine.last_price)
        fresh.check_invariants()
        assert fresh.state_hash() == self.engine.state_hash()
        self.engine = fresh

    # --------------------------------------------------------- invariants
    @invariant()
    def book_never_crossed_at_rest(self) -> None:
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        assert bid is None or ask is None or bid < ask

    @invariant()
    def size_is_conserved(self) -> None:
        resting = {o.order_id: o.remaining_size for o in self.engine.resting_orders()}
        for oid, size in self.sizes.items():
            assert size == self.filled.get(oid, 0) + self.gone.get(
                oid, 0
            ) + resting.get(oid, 0), oid

    @invariant()
    def fifo_within_each_level(self) -> None:
        last: dict[tuple[Side, int], int] = {}
        for o in self.engine.resting_orders():
            key = (o.side, o.price)
            assert last.get(key, 0) < o.order_id  # ids increase with arrival
            last[key] = o.order_id

    def teardown(self) -> None:
        replay = Engine(CFG)
        events: list[Event] = []
        for cmd in self.commands:
            events.extend(replay.process(cmd))
        assert events == self.events
        assert replay.state_hash() == self.engine.state_hash()


EngineVsReference.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_engine_matches_reference = EngineVsReference.TestCase
