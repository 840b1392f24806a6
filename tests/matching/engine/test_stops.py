"""Stop and stop-limit orders: triggers, cascades, cancels."""

from __future__ import annotations

from apps.matching.engine import (
    Accepted,
    Cancelled,
    OrderType,
    Reason,
    StopTriggered,
    TimeInForce,
)

from .helpers import BUY, SELL, Harness, deltas, done, kinds, of, trades


def _trade_at(h: Harness, price: int, oid: int) -> None:
    """Print a trade at ``price`` between two bystander accounts."""
    h.limit(oid, 900, SELL, price, 1)
    h.limit(oid + 1, 901, BUY, price, 1)


def test_stop_waits_without_touching_the_book() -> None:
    h = Harness()
    ev = h.stop(1, 10, BUY, 105, 2)
    assert ev == [Accepted(1, 10, BUY, OrderType.STOP, None, 2, 1)]
    assert h.depth() == ([], [])
    assert h.engine.stop_order(1) is not None and h.engine.open_order(1) is None


def test_buy_stop_triggers_when_last_reaches_stop_price_and_executes_as_market() -> (
    None
):
    h = Harness()
    h.stop(1, 10, BUY, 105, 2)
    h.limit(2, 20, SELL, 106, 5)
    _trade_at(h, 104, 3)
    assert h.engine.stop_order(1) is not None
    h.limit(5, 30, SELL, 105, 1)
    ev = h.limit(6, 31, BUY, 105, 1)
    assert kinds(ev)[:4] == ["Accepted", "Trade", "Done", "Done"]
    assert StopTriggered(1, 10, 105, 6) in ev
    assert trades(ev) == [(5, 6, 105, 1), (2, 1, 106, 2)]
    assert done(ev, 1).filled_size == 2
    assert h.engine.stop_order(1) is None


def test_sell_stop_limit_triggers_on_drop_and_rests_as_limit() -> None:
    h = Harness()
    h.stop(1, 10, SELL, 95, 3, price=94)
    _trade_at(h, 96, 2)
    ev = h.limit(4, 20, BUY, 95, 1) + h.limit(5, 21, SELL, 95, 1)
    assert StopTriggered(1, 10, 95, 5) in ev
    assert h.depth() == ([], [(94, 3)])
    o = h.engine.open_order(1)
    assert o is not None and o.ts == 1  # original time kept on the order


def test_triggers_cascade_within_one_command_in_trigger_price_order() -> None:
    h = Harness()
    h.limit(1, 20, SELL, 101, 1)
    h.limit(2, 20, SELL, 102, 1)
    h.limit(3, 20, SELL, 103, 1)
    h.stop(10, 10, BUY, 102, 1)  # fires when 101 trades? no: needs >= 102
    h.stop(11, 11, BUY, 101, 1)  # fires first (lower trigger price)
    h.stop(12, 12, BUY, 101, 1)  # same trigger price, later ts
    ev = h.limit(4, 30, BUY, 101, 1)
    assert [e.order_id for e in of(ev, StopTriggered)] == [11, 12, 10]
    assert trades(ev) == [(1, 4, 101, 1), (2, 11, 102, 1), (3, 12, 103, 1)]
    # Order 10 triggered by 12's trade at 103 and found no liquidity.
    assert of(ev, Cancelled)[-1] == Cancelled(10, 10, Reason.NO_LIQUIDITY, 1, 7)
    assert deltas(ev) == [(SELL, 101, 0), (SELL, 102, 0), (SELL, 103, 0)]


def test_stop_whose_condition_already_holds_triggers_at_once() -> None:
    h = Harness()
    _trade_at(h, 100, 1)
    h.limit(3, 20, SELL, 100, 1)
    ev = h.stop(4, 10, BUY, 99, 1)
    assert kinds(ev)[:2] == ["Accepted", "StopTriggered"]
    assert trades(ev) == [(3, 4, 100, 1)]


def test_no_trigger_before_any_trade() -> None:
    h = Harness()
    h.stop(1, 10, SELL, 1_000_000, 1)
    h.limit(2, 20, BUY, 50, 1)
    assert h.engine.stop_order(1) is not None


def test_cancel_untriggered_stop_releases_its_hold() -> None:
    h = Harness()
    h.stop(1, 10, BUY, 105, 2, price=106)
    ev = h.cancel(1, 10)
    assert kinds(ev) == ["Cancelled", "Done"]
    assert done(ev, 1).released == 212 and h.engine.stop_order(1) is None


def test_cancel_stop_of_another_account_is_not_found() -> None:
    h = Harness()
    h.stop(1, 10, BUY, 105, 2)
    assert of(h.cancel(1, 11), Cancelled) == []
    assert h.engine.stop_order(1) is not None


def test_triggered_stop_limit_post_only_that_would_take_is_cancelled() -> None:
    h = Harness()
    h.stop(1, 10, BUY, 100, 1, price=110, post_only=True)
    h.limit(2, 20, SELL, 105, 5)
    ev = h.limit(3, 20, SELL, 100, 1) + h.limit(4, 21, BUY, 100, 1)
    assert of(ev, Cancelled) == [Cancelled(1, 10, Reason.POST_ONLY_WOULD_TAKE, 1, 4)]


def test_triggered_stop_limit_fok_not_fillable_is_cancelled() -> None:
    h = Harness()
    h.stop(1, 10, BUY, 100, 9, price=110, tif=TimeInForce.FOK)
    h.limit(2, 20, SELL, 105, 5)
    ev = h.limit(3, 20, SELL, 100, 1) + h.limit(4, 21, BUY, 100, 1)
    assert of(ev, Cancelled) == [Cancelled(1, 10, Reason.FOK_NOT_FILLABLE, 9, 4)]
    assert h.depth() == ([], [(105, 5)])


def test_triggered_stop_market_uses_band_from_trigger_time() -> None:
    h = Harness()  # band 10%
    h.stop(1, 10, SELL, 100, 3)
    h.limit(2, 20, BUY, 95, 1)
    h.limit(3, 20, BUY, 86, 1)  # ref 95 -> bound 85.5 -> 86 allowed
    h.limit(4, 20, BUY, 85, 1)
    ev = h.limit(5, 30, BUY, 100, 1) + h.limit(6, 31, SELL, 100, 1)
    assert trades(ev)[1:] == [(2, 1, 95, 1), (3, 1, 86, 1)]
    assert of(ev, Cancelled)[0].reason is Reason.PRICE_BAND


def test_sell_stops_trigger_highest_stop_price_first() -> None:
    h = Harness()
    h.limit(1, 20, BUY, 90, 10)
    h.stop(10, 10, SELL, 95, 1)
    h.stop(11, 11, SELL, 98, 1)
    ev = h.limit(2, 30, BUY, 94, 1) + h.limit(3, 31, SELL, 94, 1)
    assert [e.order_id for e in of(ev, StopTriggered)] == [11, 10]
