"""Amends through the matcher: queued by the service, applied in the batch's
transaction; racing fills (queued first, or on other connections) leave
every hold and the ledger exact."""

from __future__ import annotations

import pytest

from apps.matching import processor as processor_module
from apps.orders import amends
from apps.orders.models import CommandKind, Order, OrderCommand
from tests.helpers import BTC, bal, matcher_running, place, run_concurrently

pytestmark = pytest.mark.django_db


def test_a_reduction_in_place_keeps_the_priority_row_and_rebuilds_the_same(
    funded, alice, bob, matcher, assert_ledger
):
    first = place(alice, funded, side="sell", price="63000", size="0.01")
    place(bob, funded, side="sell", price="63000", size="0.01")
    matcher()
    first.refresh_from_db()
    priority = first.priority
    command = amends.order_amend(order=first, size=40)
    assert command.hold_add == 0
    matcher()
    first.refresh_from_db()
    assert (first.size, first.hold_amount, first.priority) == (40, 400_000, priority)
    before = matcher.book.engine.state_hash()
    matcher.book.rebuild()
    assert matcher.book.engine.state_hash() == before
    assert_ledger()


def test_an_amend_that_always_fails_is_marked_failed_and_its_hold_released(
    funded, alice, matcher, monkeypatch, assert_ledger
):
    order = place(alice, funded, side="sell", price="63000", size="0.01")
    matcher()
    amends.order_amend(order=order, size=150)
    assert bal(alice, funded.base)[1] == 1_500_000

    def broken(command, pair):
        raise ValueError("cannot be applied")

    monkeypatch.setattr(processor_module, "amend_command", broken)
    for _ in range(20):
        try:
            if not OrderCommand.objects.filter(processed_at__isnull=True).exists():
                break
            matcher.processor.run_once()
        except ValueError:
            continue
    command = OrderCommand.objects.get(kind=CommandKind.AMEND)
    assert command.result == "failed"
    order.refresh_from_db()
    assert (order.status, order.size, order.hold_amount) == ("open", 100, 1_000_000)
    assert bal(alice, funded.base) == (9 * BTC + 99_000_000, 1_000_000)
    assert_ledger()


def test_amend_racing_a_fill_that_completes_the_order_is_refused_and_released(
    funded, alice, bob, matcher, assert_ledger
):
    """The API accepted and held for the amend, but a fill queued before it
    completed the order: the matcher refuses it and releases what it held."""
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    matcher()
    place(bob, funded, side="sell", price="63000", size="0.01")  # queued first
    command = amends.order_amend(order=order, price=order.price, size=200)
    assert command.hold_add == 631_260_000
    matcher()
    command.refresh_from_db()
    assert command.result == "rejected:order_not_found"
    assert bal(alice, funded.quote)[1] == 0
    with pytest.raises(Exception) as refused:
        amends.amend_wait(order=order, command=command, timeout_s=0)
    assert refused.value.code == "ORDER_ALREADY_FILLED"
    assert_ledger()


def test_price_cut_racing_fills_at_the_old_price_still_applies_exactly(
    funded, alice, bob, matcher, assert_ledger
):
    """The bound the API holds covers fills at the old (higher) price that
    land between its check and the matcher's apply; the excess returns."""
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    matcher()
    place(bob, funded, side="sell", price="63000", size="0.006")  # queued first
    command = amends.order_amend(order=order, price=6_000_000, size=120)
    matcher()
    command.refresh_from_db()
    assert command.result == "amended"
    order.refresh_from_db()
    assert (order.filled_size, order.size, order.price) == (60, 120, 6_000_000)
    # Spent 378 + ceil(0.756 maker fee); the rest 0.006 x 60,000 = 360 with
    # ceil(378 x 10 bps + 360 x 20 bps) - 0.378 = 0.72 of fees at most.
    assert bal(alice, funded.quote)[1] == 360_720_000
    assert_ledger()


@pytest.mark.django_db(transaction=True)
def test_amends_racing_fills_on_separate_connections_leave_the_books_clean(
    funded, alice, bob, assert_ledger, matcher
):
    """Real concurrency: amends of alice's order and bob's crossing orders
    arrive from their own connections while the matcher runs; whatever
    interleaving happened, every hold and the ledger are exact."""
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    matcher()
    sizes = iter([120, 90, 150, 110])
    with matcher_running(matcher, pause=0.002):

        def act():
            size = next(sizes, None)
            if size is None:
                return place(bob, funded, side="sell", price="62000", size="0.002")
            fresh = Order.objects.select_related("pair").get(pk=order.pk)
            return amends.order_amend(order=fresh, price=6_250_000, size=size)

        outcomes = run_concurrently(act, 8)
    matcher()
    unexpected = [
        o
        for o in outcomes
        if isinstance(o, Exception)
        and getattr(o, "code", None)
        not in (
            "ORDER_ALREADY_FILLED",
            "ORDER_AMEND_SIZE_BELOW_FILLED",
            "ORDER_AMEND_PENDING",
        )
    ]
    assert unexpected == []
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    results = set(
        OrderCommand.objects.filter(kind=CommandKind.AMEND).values_list(
            "result", flat=True
        )
    )
    assert results and results <= {
        "amended",
        "rejected:order_not_found",
        "rejected:size_below_filled",
    }
    assert_ledger()


def test_an_amend_journals_the_orders_new_state_and_its_balances(
    client, funded, alice, bob, matcher
):
    from tests.apikeys.factories import ApiKeyFactory
    from tests.apikeys.helpers import signed
    from tests.helpers import balance_event_problems, events_of, journal_problems

    order = place(alice, funded, side="buy", price="63000", size="0.01")
    matcher()
    amends.order_amend(order=order, price=6_310_000, size=200)
    matcher()
    last = events_of(alice, "orders")[-1]
    rest = signed(
        client,
        ApiKeyFactory(user=alice, scope="read"),
        "GET",
        f"/v1/orders/{order.uuid}",
    ).json()
    assert last == rest
    assert (last["price"], last["size"], last["held"]) == (
        "63100.000000",
        "0.02000000",
        "1264.524000",
    )
    assert journal_problems() == []
    assert balance_event_problems() == []


def test_an_amend_queued_behind_the_placement_applies_after_it(
    funded, alice, bob, matcher, assert_ledger
):
    """A pending order can be amended: its placement is ahead in the queue,
    and the bound held covers what it fills as a taker meanwhile."""
    place(bob, funded, side="sell", price="62000", size="0.004")
    matcher()
    order = place(alice, funded, side="buy", price="63000", size="0.01")
    command = amends.order_amend(order=order, price=6_100_000, size=120)
    matcher()
    command.refresh_from_db()
    order.refresh_from_db()
    assert command.result == "amended"
    assert (order.filled_size, order.size, order.price, order.status) == (
        40,
        120,
        6_100_000,
        "partially_filled",
    )
    assert_ledger()
