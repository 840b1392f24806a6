"""Fencing: a matcher whose pair has a newer owner commits nothing more; a
takeover waits for a batch that already proved its ownership; a rebuild reads
one snapshot."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from apps.markets.models import Pair
from apps.matching.books import PairBook
from apps.matching.fencing import (
    OwnershipLost,
    consistent_snapshot,
    ownership_prove,
    ownership_take,
)
from apps.matching.models import PairOwner
from apps.matching.processor import BatchProcessor
from apps.orders.models import Order, OrderCommand
from tests.helpers import USD, bal, place

pytestmark = pytest.mark.django_db


def test_taking_a_pair_increments_its_epoch(btc_usd):
    first = ownership_take(pair_ids=[btc_usd.pk], owner="host-a:1")
    second = ownership_take(pair_ids=[btc_usd.pk], owner="host-b:2")
    assert second[btc_usd.pk] == first[btc_usd.pk] + 1
    row = PairOwner.objects.get(pair=btc_usd)
    assert (row.epoch, row.owner) == (second[btc_usd.pk], "host-b:2")


def test_processed_commands_carry_their_owners_epoch(funded, alice, matcher):
    place(alice, funded, side="buy", price="60000", size="0.1")
    matcher()
    assert list(OrderCommand.objects.values_list("epoch", flat=True)) == [
        matcher.book.epoch
    ]


def test_a_matcher_whose_pair_was_taken_commits_nothing_more(
    funded, alice, matcher, assert_ledger
):
    place(alice, funded, side="buy", price="60000", size="0.1")
    matcher()
    ownership_take(pair_ids=[funded.pk], owner="newer:1")
    order = place(alice, funded, side="buy", price="60001", size="0.1")
    before = bal(alice, funded.quote)
    with pytest.raises(OwnershipLost):
        matcher.processor.run_once(10)
    order.refresh_from_db()
    assert order.status == "pending"
    assert OrderCommand.objects.filter(processed_at__isnull=True).count() == 1
    assert bal(alice, funded.quote) == before
    assert matcher.processor.stale  # its memory ran ahead: never trusted again
    assert_ledger()


def test_a_book_never_taken_proves_nothing(funded, alice):
    book = PairBook(funded)
    book.rebuild()
    place(alice, funded, side="buy", price="60000", size="0.1")
    with pytest.raises(OwnershipLost):
        BatchProcessor({funded.pk: book}).run_once(10)
    assert not OrderCommand.objects.filter(processed_at__isnull=False).exists()


def test_the_poison_pill_rejection_is_fenced_too(funded, alice, matcher):
    order = place(alice, funded, side="buy", price="60000", size="0.1")
    ownership_take(pair_ids=[funded.pk], owner="newer:1")
    with pytest.raises(OwnershipLost):
        matcher.processor._reject_poison(OrderCommand.objects.get(order=order))
    order.refresh_from_db()
    assert order.status == "pending"
    assert bal(alice, funded.quote) == (1_000_000 * USD - 6_012 * USD, 6_012 * USD)


def _in_thread(fn, *args):
    """Run ``fn`` on its own connection; returns (thread, outcome list)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_a_takeover_waits_for_a_batch_that_already_proved(btc_usd):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite serialises whole write transactions")
    epochs = ownership_take(pair_ids=[btc_usd.pk], owner="old:1")
    proved, release = threading.Event(), threading.Event()

    def old_batch() -> str:
        with transaction.atomic():
            ownership_prove(epochs)
            proved.set()
            release.wait(10)
            Pair.objects.filter(pk=btc_usd.pk).update(min_size=20_000)
        return "committed"

    old, old_outcome = _in_thread(old_batch)
    assert proved.wait(10)
    new, new_outcome = _in_thread(
        lambda: ownership_take(pair_ids=[btc_usd.pk], owner="new:2")
    )
    time.sleep(0.3)
    assert new.is_alive(), "the takeover did not wait for the proved batch"
    release.set()
    old.join(10)
    new.join(10)
    assert old_outcome == ["committed"]
    assert new_outcome == [{btc_usd.pk: epochs[btc_usd.pk] + 1}]
    # ... and the next batch of the old owner is refused.
    with pytest.raises(OwnershipLost), transaction.atomic():
        ownership_prove(epochs)


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_snapshot_does_not_see_a_commit_made_during_it(funded, alice):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: one writer at a time, the snapshot is the transaction")
    place(alice, funded, side="buy", price="60000", size="0.1")
    with consistent_snapshot():
        before = Order.objects.count()
        thread, outcome = _in_thread(
            lambda: place(alice, funded, side="buy", price="60001", size="0.1")
        )
        thread.join(10)
        assert isinstance(outcome[0], Order)
        assert Order.objects.count() == before
    assert Order.objects.count() == before + 1
