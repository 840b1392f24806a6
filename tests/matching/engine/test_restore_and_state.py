"""Restore after restart, state hash, invariant checks, queries."""

from __future__ import annotations

import inspect

import pytest

from apps.matching.engine import (
    BookConfig,
    Engine,
    InvariantError,
    OpenOrder,
    OrderType,
    PlaceOrder,
    RestoreKwargs,
    Side,
    Stp,
    buy_limit_hold,
)

from .helpers import BUY, FEES, SELL, Harness


def _busy_book() -> Harness:
    h = Harness(FEES)
    h.limit(1, 10, SELL, 101, 5)
    h.limit(2, 11, SELL, 101, 3)
    h.limit(3, 12, SELL, 103, 4)
    h.limit(4, 13, BUY, 99, 6)
    h.limit(5, 14, BUY, 102, 7)  # fills 7 of the 8 lots @101
    h.limit(6, 15, BUY, 99, 2)
    h.limit(7, 16, SELL, 99, 3)  # hits 4 partially (maker fee state)
    h.stop(8, 17, BUY, 110, 2, price=111)
    h.stop(9, 18, SELL, 90, 1)
    return h


def _rebuild(h: Harness) -> Engine:
    fresh = Engine(h.cfg)
    for o in h.engine.resting_orders():
        fresh.restore_resting(**o.restore_kwargs())
    for cmd in h.engine.stop_orders():
        fresh.restore_stop(cmd)
    fresh.set_last_price(h.engine.last_price)
    fresh.check_invariants()
    return fresh


def test_rebuilt_engine_has_same_hash_and_behaves_identically() -> None:
    h = _busy_book()
    fresh = _rebuild(h)
    assert fresh.state_hash() == h.engine.state_hash()
    assert fresh.depth(10) == h.engine.depth(10)
    for cmd in [
        PlaceOrder(
            order_id=20,
            account_id=30,
            side=SELL,
            type=OrderType.MARKET,
            size=9,
            hold=9,
            ts=50,
        ),
        PlaceOrder(
            order_id=21,
            account_id=31,
            side=BUY,
            type=OrderType.LIMIT,
            price=112,
            size=20,
            hold=buy_limit_hold(112, 20, FEES),
            ts=51,
        ),
    ]:
        assert fresh.process(cmd) == h.engine.process(cmd)
        assert fresh.state_hash() == h.engine.state_hash()


def test_state_hash_ignores_history_but_sees_priority_and_fill_state() -> None:
    a, b = Harness(), Harness()
    a.limit(1, 10, BUY, 100, 5)
    a.limit(2, 11, BUY, 100, 5)
    b.limit(2, 11, BUY, 100, 5, ts=2)
    b.limit(1, 10, BUY, 100, 5, ts=1)
    assert a.engine.state_hash() != b.engine.state_hash()  # FIFO differs
    c = Harness()
    c.limit(1, 10, BUY, 100, 5, ts=1)
    c.limit(9, 99, BUY, 50, 1, ts=1)
    c.cancel(9, 99)
    c.limit(2, 11, BUY, 100, 5, ts=2)
    assert c.engine.state_hash() == a.engine.state_hash()  # history is not state
    a.limit(3, 12, SELL, 100, 1)
    assert a.engine.state_hash() != c.engine.state_hash()


def test_restored_partially_filled_order_keeps_cumulative_fee() -> None:
    h = Harness(FEES)
    h.limit(1, 10, BUY, 100, 10)
    h.limit(2, 20, SELL, 100, 3)  # maker 300 @10bps -> fee 1 (0.3 rounded up)
    fresh = _rebuild(h)
    cmd = PlaceOrder(
        order_id=3,
        account_id=21,
        side=SELL,
        type=OrderType.LIMIT,
        price=100,
        size=3,
        hold=3,
        ts=9,
    )
    assert fresh.process(cmd) == h.engine.process(cmd)  # 0.6 -> still 1: fee 0


def test_restore_rejects_bad_rows() -> None:
    e = Engine(FEES)
    e.restore_resting(
        order_id=1,
        account_id=1,
        side=Side.SELL,
        price=100,
        remaining_size=5,
        hold=5,
        ts=1,
    )
    with pytest.raises(ValueError):
        e.restore_resting(
            order_id=1,
            account_id=1,
            side=Side.SELL,
            price=101,
            remaining_size=5,
            hold=5,
            ts=1,
        )
    with pytest.raises(ValueError):  # would cross
        e.restore_resting(
            order_id=2,
            account_id=1,
            side=Side.BUY,
            price=100,
            remaining_size=1,
            hold=10**6,
            ts=1,
        )
    with pytest.raises(ValueError):  # hold does not cover 1 @99 + fee
        e.restore_resting(
            order_id=3,
            account_id=1,
            side=Side.BUY,
            price=99,
            remaining_size=1,
            hold=99,
            ts=1,
        )
    with pytest.raises(ValueError):
        e.restore_stop(
            PlaceOrder(
                order_id=4,
                account_id=1,
                side=BUY,
                type=OrderType.LIMIT,
                price=1,
                size=1,
                hold=9,
                ts=1,
            )
        )
    e.check_invariants()


def test_restore_resting_emits_nothing_and_keeps_call_order_as_priority() -> None:
    e = Engine(FEES)
    for oid in (5, 3, 4):
        e.restore_resting(
            order_id=oid,
            account_id=oid,
            side=Side.SELL,
            price=100,
            remaining_size=1,
            hold=1,
            ts=oid,
            stp=Stp.CANCEL_BOTH,
        )
    assert [o.order_id for o in e.resting_orders()] == [5, 3, 4]
    ev = e.process(
        PlaceOrder(
            order_id=9,
            account_id=9,
            side=BUY,
            type=OrderType.LIMIT,
            price=100,
            size=1,
            hold=buy_limit_hold(100, 1, FEES),
            ts=10,
        )
    )
    assert [t.maker_order_id for t in ev if type(t).__name__ == "Trade"] == [5]


def test_check_invariants_detects_corruption() -> None:
    h = _busy_book()
    o = h.engine._m.index[4]
    o.remaining += 1  # level total no longer matches
    with pytest.raises(InvariantError):
        h.engine.check_invariants()
    o.remaining -= 1
    o.spent = o.hold + 1
    with pytest.raises(InvariantError):
        h.engine.check_invariants()


def test_queries() -> None:
    h = _busy_book()
    e = h.engine
    assert e.best_bid() == 99 and e.best_ask() == 101
    bids, asks = e.depth(1)
    assert bids == [(99, 5)] and asks == [(101, 1)]
    assert e.depth(10) == ([(99, 5)], [(101, 1), (103, 4)])
    assert e.open_order(999) is None and e.stop_order(8) is not None
    assert [c.order_id for c in e.stop_orders()] == [8, 9]


def test_state_hash_covers_every_restored_field() -> None:
    base = dict(
        order_id=1,
        account_id=2,
        side=Side.BUY,
        price=100,
        remaining_size=5,
        hold=10_000,
        ts=3,
        filled_size=4,
        taker_quote=400,
        maker_quote=0,
        fee_total=1,
    )
    variants = [
        dict(order_id=9),
        dict(account_id=9),
        dict(price=99),
        dict(remaining_size=6),
        dict(hold=10_001),
        dict(ts=4),
        dict(filled_size=3),
        dict(taker_quote=300),
        dict(maker_quote=100),
        dict(fee_total=2),
        dict(side=Side.SELL),
    ]

    def digest(**changes: object) -> str:
        e = Engine(FEES)
        e.restore_resting(**{**base, **changes})  # type: ignore[arg-type]
        return e.state_hash()

    hashes = {digest()} | {digest(**v) for v in variants}
    assert len(hashes) == len(variants) + 1
    sell = dict(side=Side.SELL, hold=9)
    assert digest(**sell) != digest(**sell, fee_total=2)  # a sell's fee is not in spent
    e = Engine(FEES)
    e.restore_resting(**base)  # type: ignore[arg-type]
    e.set_last_price(100)
    assert e.state_hash() != digest()


def test_restore_requires_cover_at_the_highest_fee_rate() -> None:
    cfg = BookConfig(
        quote_per_tick_lot=1, maker_fee_bps=50, taker_fee_bps=10, price_band_bps=1000
    )
    e = Engine(cfg)
    with pytest.raises(ValueError):  # 701 covers the taker rate, not the maker's
        e.restore_resting(
            order_id=1,
            account_id=1,
            side=Side.BUY,
            price=100,
            remaining_size=7,
            hold=701,
            ts=1,
        )
    e.restore_resting(
        order_id=1,
        account_id=1,
        side=Side.BUY,
        price=100,
        remaining_size=7,
        hold=704,
        ts=1,
    )
    e.check_invariants()


def test_restore_kwargs_are_open_order_fields_and_restore_resting_parameters() -> None:
    """RestoreKwargs restates OpenOrder's fields (typing cannot derive it)."""
    parameters = [
        name
        for name, p in inspect.signature(Engine.restore_resting).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    ]
    fields = [name for name in OpenOrder._fields if name != "spent"]
    assert list(RestoreKwargs.__annotations__) == parameters == fields
