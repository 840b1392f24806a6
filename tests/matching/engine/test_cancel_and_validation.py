"""Cancels, validation and duplicate ids."""

from __future__ import annotations

import pytest

from apps.matching.engine import (
    BookDelta,
    Cancelled,
    CancelOrder,
    CancelRejected,
    Done,
    Engine,
    OrderType,
    PlaceOrder,
    Reason,
    Rejected,
    Stp,
    TimeInForce,
)

from .helpers import BUY, CANCELLED, NO_FEES, REJECTED, SELL, Harness, kinds


def test_cancel_resting_order_emits_cancelled_done_and_delta() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 5)
    h.limit(2, 11, BUY, 100, 3)
    ev = h.cancel(1, 10)
    assert ev == [
        Cancelled(1, 10, Reason.USER_CANCELLED, 5, 3),
        Done(1, 10, CANCELLED, 0, 0, 0, 500),
        BookDelta(BUY, 100, 3),
    ]


def test_cancel_reports_the_reason_it_carries_for_resting_orders_and_stops() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 5)
    h.stop(2, 10, BUY, 105, 2)
    switch = Reason.DEAD_MAN_SWITCH
    assert h.do(CancelOrder(1, 10, 7, switch))[:2] == [
        Cancelled(1, 10, switch, 5, 7),
        Done(1, 10, CANCELLED, 0, 0, 0, 500),
    ]
    assert h.do(CancelOrder(2, 10, 8, switch))[0] == Cancelled(2, 10, switch, 2, 8)
    assert h.depth() == ([], [])


def test_cancel_unknown_order_is_rejected_not_found() -> None:
    h = Harness()
    assert h.cancel(42, 1) == [CancelRejected(42, 1, Reason.ORDER_NOT_FOUND, 1)]


def test_cancel_of_another_accounts_order_is_not_found_and_changes_nothing() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    before = h.engine.state_hash()
    assert kinds(h.cancel(1, 11)) == ["CancelRejected"]
    assert h.engine.state_hash() == before


def test_cancel_of_finished_order_is_not_found() -> None:
    h = Harness()
    h.limit(1, 10, SELL, 100, 5)
    h.limit(2, 11, BUY, 100, 5)
    assert kinds(h.cancel(1, 10)) == ["CancelRejected"]
    h.limit(3, 10, SELL, 100, 5)
    h.cancel(3, 10)
    assert kinds(h.cancel(3, 10)) == ["CancelRejected"]


def _cmd(**kw: object) -> PlaceOrder:
    base: dict[str, object] = dict(
        order_id=1,
        account_id=1,
        side=BUY,
        type=OrderType.LIMIT,
        price=100,
        size=1,
        hold=100,
        ts=1,
    )
    base.update(kw)
    return PlaceOrder(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        dict(price=None),
        dict(price=0),
        dict(size=0),
        dict(size=None),
        dict(hold=-1),
        dict(funds=100),
        dict(stop_price=90),
        dict(post_only=True, tif=TimeInForce.IOC),
        dict(type=OrderType.MARKET),  # market with a price
        dict(type=OrderType.MARKET, price=None, size=None),
        dict(type=OrderType.MARKET, price=None, size=None, funds=100, side=SELL),
        dict(type=OrderType.MARKET, price=None, size=1, funds=100),
        dict(type=OrderType.MARKET, price=None, tif=TimeInForce.FOK),
        dict(type=OrderType.STOP, price=None),
        dict(type=OrderType.STOP_LIMIT),
        dict(type=OrderType.STOP_LIMIT, stop_price=0),
        dict(side="buy"),
        dict(stp="cancel_oldest"),
    ],
)
def test_malformed_order_is_rejected_invalid_and_hold_released(
    kw: dict[str, object],
) -> None:
    e = Engine(NO_FEES)
    cmd = _cmd(**kw)
    ev = e.process(cmd)
    assert ev == [
        Rejected(1, 1, Reason.INVALID_ORDER, 1),
        Done(1, 1, REJECTED, 0, 0, 0, max(cmd.hold, 0)),
    ]
    e.check_invariants()


def test_duplicate_order_id_is_rejected_without_done() -> None:
    h = Harness()
    h.limit(1, 10, BUY, 100, 5)
    before = h.engine.state_hash()
    ev = h.limit(1, 10, SELL, 200, 5)
    assert ev == [Rejected(1, 10, Reason.DUPLICATE_ORDER_ID, 2)]
    assert h.engine.state_hash() == before
    h.stop(2, 10, BUY, 300, 1)
    assert kinds(h.limit(2, 10, BUY, 99, 1)) == ["Rejected"]


def test_finished_order_id_may_not_be_known_anymore() -> None:
    # Exactly-once processing across restarts is the adapter's job; the
    # engine only guards ids it currently holds.
    h = Harness()
    h.limit(1, 10, BUY, 100, 5, tif=TimeInForce.IOC)
    assert kinds(h.limit(1, 10, BUY, 100, 5, tif=TimeInForce.IOC))[0] == "Accepted"


def test_unknown_command_type_raises() -> None:
    with pytest.raises(TypeError):
        Engine(NO_FEES).process("cancel everything")  # type: ignore[arg-type]


def test_stp_default_is_cancel_newest() -> None:
    assert _cmd().stp is Stp.CANCEL_NEWEST and _cmd().tif is TimeInForce.GTC
