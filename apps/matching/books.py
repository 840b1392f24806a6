"""The matcher's in-memory books: one engine per pair, and its rebuild from
the database (the only way a book is ever loaded)."""

from __future__ import annotations

from django.db.models import Max

from apps.core.api.formats import unix_ms
from apps.markets.models import MarketEvent, Pair
from apps.matching import engine as eng
from apps.matching.adapter import SIDES, STPS, engine_hold, place_command
from apps.matching.fencing import consistent_snapshot
from apps.orders.models import Order, OrderStatus, OrderType, Trade


class PairBook:
    """One pair's engine plus the counters that continue the database's, and
    the owner epoch its settlements prove (0: not taken, proves nothing)."""

    def __init__(self, pair: Pair, epoch: int = 0) -> None:
        self.pair = pair
        self.epoch = epoch
        self.engine = eng.Engine(pair.book_config())
        self.sides: dict[int, str] = {}  # live order id -> "buy" | "sell"
        self.event_seq = 0
        self.trade_seq = 0
        self.priority = 0
        self.last_book_seq = 0

    def rebuild(self) -> None:
        """Load the book from the database: resting orders and untriggered
        stops in their original priority, the last price and the sequences.

        Reads one snapshot, so a batch committed meanwhile is either wholly in
        it or not at all. Builds everything first and swaps it in at the end,
        so a failure half-way (the database went away) leaves the previous
        state, which the caller still treats as stale and rebuilds again."""
        with consistent_snapshot():
            self._load()

    def _load(self) -> None:
        pair = Pair.objects.select_related("base", "quote").get(pk=self.pair.pk)
        engine = eng.Engine(pair.book_config())
        sides: dict[int, str] = {}
        live = Order.objects.filter(
            pair=pair,
            status__in=(OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED),
        ).order_by("priority", "pk")
        for order in live:
            if order.priority is None:
                raise eng.InvariantError(f"live order {order.pk} has no book priority")
            sides[order.pk] = order.side
            untriggered_stop = order.type in (
                OrderType.STOP,
                OrderType.STOP_LIMIT,
            ) and (order.triggered_at is None)
            if untriggered_stop:
                engine.restore_stop(place_command(order, pair))
                continue
            engine.restore_resting(
                order_id=order.pk,
                account_id=order.user_id,
                side=SIDES[order.side],
                price=order.price,
                remaining_size=order.size - order.filled_size,
                hold=engine_hold(order, pair),
                ts=unix_ms(order.created_at),
                stp=STPS[order.stp],
                filled_size=order.filled_size,
                taker_quote=order.filled_quote - order.maker_quote,
                maker_quote=order.maker_quote,
                fee_total=order.fee,
            )
        last = (
            Trade.objects.filter(pair=pair)
            .order_by("-seq")
            .values("price", "seq")
            .first()
        )
        engine.set_last_price(last["price"] if last else None)
        events = MarketEvent.objects.filter(pair=pair)
        event_seq = events.aggregate(m=Max("seq"))["m"] or 0
        last_book_seq = events.filter(type="book").aggregate(m=Max("seq"))["m"] or 0
        priority = (
            Order.objects.filter(pair=pair).aggregate(m=Max("priority"))["m"] or 0
        )
        (self.pair, self.engine, self.sides) = (pair, engine, sides)
        (self.event_seq, self.trade_seq) = (event_seq, last["seq"] if last else 0)
        (self.last_book_seq, self.priority) = (last_book_seq, priority)
