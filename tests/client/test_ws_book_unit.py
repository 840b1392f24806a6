"""LocalBook alone: snapshot, deltas, the prev_seq chain, resyncs (no server)."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from exchange.client import BookOutOfSync, LocalBook
from exchange.client.book import book_checksum

PAIR = "BTC-USD"


def snapshot(seq: int, bids=(), asks=()) -> dict[str, Any]:
    return {
        "type": "book_snapshot",
        "channel": "book",
        "pair": PAIR,
        "seq": seq,
        "bids": [list(level) for level in bids],
        "asks": [list(level) for level in asks],
    }


def delta(seq: int, prev_seq: int, *changes: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "type": "book_delta",
        "channel": "book",
        "pair": PAIR,
        "seq": seq,
        "prev_seq": prev_seq,
        "changes": [list(change) for change in changes],
    }


RESYNC = {"type": "resync", "channel": "book", "pair": PAIR, "reason": "slow_consumer"}


def seeded(**kwargs: Any) -> LocalBook:
    book = LocalBook(PAIR, **kwargs)
    book.apply(
        snapshot(
            10,
            bids=[("99.00", "1.0"), ("98.00", "2.0")],
            asks=[("101.00", "0.5"), ("102.00", "1.5")],
        )
    )
    return book


def test_a_new_book_waits_for_its_snapshot():
    book = LocalBook(PAIR)
    assert not book.in_sync
    assert book.seq is None
    assert (book.bids(), book.asks()) == ([], [])


def test_a_snapshot_sets_the_levels_and_the_seq():
    book = seeded()
    assert book.in_sync
    assert book.seq == 10
    assert book.bids() == [("99.00", "1.0"), ("98.00", "2.0")]
    assert book.asks() == [("101.00", "0.5"), ("102.00", "1.5")]
    assert book.levels(1) == {"bids": [["99.00", "1.0"]], "asks": [["101.00", "0.5"]]}


def test_deltas_that_chain_set_new_totals_and_may_skip_seqs():
    book = seeded()
    assert book.apply(delta(11, 10, ("buy", "99.00", "0.4"), ("buy", "100.00", "3")))
    assert book.apply(delta(14, 11, ("sell", "103.00", "1")))
    assert book.seq == 14
    assert book.bids() == [("100.00", "3"), ("99.00", "0.4"), ("98.00", "2.0")]
    assert book.asks(10) == [("101.00", "0.5"), ("102.00", "1.5"), ("103.00", "1")]
    assert (book.deltas, book.gaps) == (2, 0)


def test_a_zero_size_removes_the_level():
    book = seeded()
    book.apply(delta(11, 10, ("sell", "101.00", "0.00000000"), ("buy", "97", "0")))
    assert book.asks() == [("102.00", "1.5")]
    assert book.bids() == [("99.00", "1.0"), ("98.00", "2.0")]


def test_the_book_keeps_the_subscription_depth_a_side():
    book = LocalBook(PAIR, depth=1)
    book.apply(snapshot(1, bids=[("99", "1")], asks=[("101", "1")]))
    book.apply(delta(2, 1, ("buy", "100", "1"), ("sell", "102", "1")))
    assert (book.bids(), book.asks()) == ([("100", "1")], [("101", "1")])
    assert book.bids(5) == [("100", "1")], "trimmed to the depth"


def test_a_broken_chain_marks_the_book_out_of_sync_and_ignores_deltas():
    book = seeded()
    assert not book.apply(delta(13, 12, ("buy", "99.00", "5")))
    assert not book.in_sync
    assert book.gaps == 1
    assert "prev_seq 12" in book.last_error
    assert not book.apply(delta(14, 13, ("buy", "99.00", "7")))
    assert book.gaps == 1, "deltas while out of sync are not more gaps"
    assert book.bids()[0] == ("99.00", "1.0"), "nothing applied after the gap"


def test_a_snapshot_after_a_gap_restores_the_book():
    book = seeded()
    book.apply(delta(13, 12, ("buy", "99.00", "5")))
    assert book.apply(snapshot(20, bids=[("99.00", "5")], asks=[("101.00", "1")]))
    assert book.in_sync
    assert book.seq == 20
    assert book.apply(delta(21, 20, ("buy", "99.00", "6")))
    assert book.bids() == [("99.00", "6")]
    assert (book.snapshots, book.gaps) == (2, 1)


def test_strict_mode_raises_on_a_broken_chain():
    book = seeded(strict=True)
    with pytest.raises(BookOutOfSync, match="prev_seq 9"):
        book.apply(delta(11, 9, ("buy", "99.00", "5")))
    assert book.gaps == 1
    assert not book.in_sync


def test_a_server_resync_waits_for_the_snapshot_that_follows():
    book = seeded(strict=True)
    assert not book.apply(RESYNC)
    assert not book.in_sync
    assert not book.apply(delta(11, 10, ("buy", "99.00", "5"))), "dropped by server"
    assert book.bids()[0] == ("99.00", "1.0")
    assert book.apply(snapshot(30, bids=[("99.50", "1")], asks=[]))
    assert book.seq == 30
    assert book.bids() == [("99.50", "1")]
    assert (book.resyncs, book.gaps, book.snapshots) == (1, 0, 2)


def test_a_crossed_book_is_out_of_sync():
    book = seeded()
    assert not book.apply(delta(11, 10, ("buy", "101.00", "1")))
    assert book.gaps == 1
    assert "crossed" in book.last_error
    with pytest.raises(BookOutOfSync, match="crossed"):
        seeded(strict=True).apply(delta(11, 10, ("sell", "99.00", "1")))


def test_messages_of_another_pair_or_type_are_refused():
    book = seeded()
    with pytest.raises(ValueError, match="not a BTC-USD"):
        book.apply(snapshot(1) | {"pair": "ETH-USD"})
    with pytest.raises(ValueError, match="not a book channel"):
        book.apply({"type": "trade", "pair": PAIR})


def test_a_heartbeat_seq_other_than_the_last_applied_is_a_gap():
    book = seeded()
    assert book.check_seq(10)
    assert not book.check_seq(12)
    assert (book.gaps, book.in_sync) == (1, False)
    assert book.check_seq(99) is False and book.gaps == 1, "not checked while out"


# -- checksums (docs/websocket.md) -------------------------------------------


def summed(msg: dict[str, Any], checksum: int) -> dict[str, Any]:
    return msg | {"checksum": checksum}


def test_the_documented_checksum_example():
    bids = [("62990.000000", "0.50000000"), ("62980.000000", "1.20000000")]
    asks = [("63010.000000", "0.25000000")]
    assert book_checksum(bids, asks) == 1182633689
    assert book_checksum([], []) == 0
    book = LocalBook(PAIR, strict=True)
    book.apply(summed(snapshot(1, bids=bids, asks=asks), 1182633689))
    assert (book.in_sync, book.checksum_failures) == (True, 0)


def test_a_checksum_covers_the_top_min_depth_25_levels_after_the_message():
    book = LocalBook(PAIR, depth=2, strict=True)
    book.apply(summed(snapshot(1, bids=[("99", "1"), ("98", "2")]), crc("99:1:98:2")))
    book.apply(summed(delta(2, 1, ("sell", "101", "3")), crc("99:1:101:3:98:2")))
    assert book.checksum_failures == 0
    deep = LocalBook(PAIR, depth=100, strict=True)
    bids = [(str(1000 - i), "1") for i in range(30)]
    text = ":".join(f"{p}:{s}" for p, s in bids[:25])
    deep.apply(summed(snapshot(1, bids=bids), crc(text)))
    assert deep.in_sync


def test_a_checksum_mismatch_is_a_gap_and_waits_for_a_snapshot():
    book = seeded()
    book.apply(summed(delta(11, 10, ("buy", "99.00", "2.0")), 12345))
    assert (book.in_sync, book.gaps, book.checksum_failures) == (False, 1, 1)
    assert "checksum 12345" in book.last_error
    with pytest.raises(BookOutOfSync, match="checksum"):
        seeded(strict=True).apply(summed(delta(11, 10), 1))


def crc(text: str) -> int:
    return zlib.crc32(text.encode())
