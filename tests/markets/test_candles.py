"""GET /v1/candles/{pair}: OHLCV from trades the real matcher produced."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.api.formats import MAX_UNIX_MS as MAX_MS
from apps.core.api.formats import from_unix_ms, unix_ms
from apps.core.middleware import now_ms
from apps.markets.candles import bucket_start, build_candles
from apps.orders.models import Trade
from tests.apikeys.helpers import error_code
from tests.helpers import place

pytestmark = pytest.mark.django_db

M = 60_000
HOUR = 60 * M


def _get(client, url):
    response = client.get(url)
    assert response.status_code < 500, response.content
    return response


def _trade(alice, bob, pair, matcher, price, size):
    place(alice, pair, side="sell", price=price, size=size)
    place(bob, pair, side="buy", price=price, size=size)
    matcher()


def _stamp(seq_to_ms: dict[int, int]) -> None:
    for seq, ms in seq_to_ms.items():
        Trade.objects.filter(seq=seq).update(created_at=from_unix_ms(ms))


@pytest.fixture
def base() -> int:
    """An hour boundary three hours ago: every candle near it has closed."""
    return bucket_start(now_ms(), HOUR) - 3 * HOUR


@pytest.fixture
def minutes(funded, alice, bob, matcher, base):
    """Trades in minute 0 (62000 x 0.5, then 63000 x 0.25) and minute 2
    (61000 x 0.1) after ``base``; none in minutes 1 and 3."""
    for price, size in (("62000", "0.5"), ("63000", "0.25"), ("61000", "0.1")):
        _trade(alice, bob, funded, matcher, price, size)
    _stamp({1: base + 1_000, 2: base + 59_999, 3: base + 2 * M + 30_000})
    return funded


def _ohlcv(candle: dict) -> tuple:
    keys = ("open", "high", "low", "close", "volume", "quote_volume", "trades")
    return tuple(candle[k] for k in keys)


# ------------------------------------------------------------------ contents


def test_candles_of_matched_trades_carry_the_close_through_empty_minutes(
    client, minutes, base
):
    response = _get(client, f"/v1/candles/BTC-USD?start={base}&end={base + 4 * M}")
    assert response.status_code == 200
    body = response.json()
    assert (body["pair"], body["interval"]) == ("BTC-USD", "1m")
    candles = body["candles"]
    assert [c["start_ts"] for c in candles] == [base + k * M for k in range(4)]
    assert candles[0]["start"] == from_unix_ms(base).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert _ohlcv(candles[0]) == (
        "62000.000000",
        "63000.000000",
        "62000.000000",
        "63000.000000",
        "0.75000000",
        "46750.000000",  # 31,000 + 15,750
        2,
    )
    empty = ("63000.000000",) * 4 + ("0.00000000", "0.000000", 0)
    assert _ohlcv(candles[1]) == empty
    assert _ohlcv(candles[2]) == ("61000.000000",) * 4 + (
        "0.10000000",
        "6100.000000",
        1,
    )
    assert _ohlcv(candles[3]) == ("61000.000000",) * 4 + ("0.00000000", "0.000000", 0)
    assert all(c["closed"] for c in candles)
    assert isinstance(body["server_time"], int)


def test_five_minute_candle_sums_its_minutes(client, minutes, base):
    body = _get(client, f"/v1/candles/BTC-USD?interval=5m&start={base}&limit=1").json()
    (candle,) = body["candles"]
    assert body["interval"] == "5m"
    assert candle["start_ts"] == base
    assert _ohlcv(candle) == (
        "62000.000000",
        "63000.000000",
        "61000.000000",
        "61000.000000",
        "0.85000000",
        "52850.000000",
        3,
    )


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "1h", "4h", "1d"])
def test_every_interval_starts_on_its_epoch_aligned_boundary(
    client, minutes, base, interval
):
    ms = {"1m": M, "5m": 5 * M, "15m": 15 * M, "1h": HOUR, "4h": 4 * HOUR}.get(
        interval, 24 * HOUR
    )
    body = _get(client, f"/v1/candles/BTC-USD?interval={interval}&start=0").json()
    first = body["candles"][0]
    assert first["start_ts"] == bucket_start(base, ms)
    assert first["start_ts"] % ms == 0
    assert sum(c["trades"] for c in body["candles"]) == 3


def test_open_and_close_follow_the_trade_sequence_within_one_batch(
    client, funded, alice, bob, matcher
):
    """One taker sweeps two asks: two trades with one timestamp."""
    place(alice, funded, side="sell", price="61000", size="0.1")
    place(alice, funded, side="sell", price="62000", size="0.1")
    matcher()
    place(bob, funded, side="buy", price="62000", size="0.2")
    matcher()
    first, second = Trade.objects.order_by("seq")
    assert first.created_at == second.created_at
    # Whatever the minute boundary did meanwhile: one candle holds both.
    ts = unix_ms(first.created_at)
    body = _get(client, f"/v1/candles/BTC-USD?start={bucket_start(ts, M)}").json()
    candle = body["candles"][0]
    assert (candle["open"], candle["close"]) == ("61000.000000", "62000.000000")
    assert (candle["high"], candle["low"]) == ("62000.000000", "61000.000000")
    assert candle["trades"] == 2


def test_no_candle_before_the_first_trade(client, minutes, base):
    body = _get(client, f"/v1/candles/BTC-USD?start={base - 30 * M}&limit=3").json()
    assert [c["start_ts"] for c in body["candles"]] == [base, base + M, base + 2 * M]


def test_the_close_before_start_is_carried_into_the_first_empty_candle(
    client, minutes, base
):
    body = _get(client, f"/v1/candles/BTC-USD?start={base + M}&limit=1").json()
    assert _ohlcv(body["candles"][0]) == ("63000.000000",) * 4 + (
        "0.00000000",
        "0.000000",
        0,
    )


def test_an_unaligned_start_begins_at_the_next_boundary(client, minutes, base):
    body = _get(client, f"/v1/candles/BTC-USD?start={base + 1}&limit=1").json()
    assert body["candles"][0]["start_ts"] == base + M


def test_only_a_limit_gives_the_latest_candles_up_to_the_forming_one(
    client, minutes, base
):
    response = _get(client, "/v1/candles/BTC-USD?limit=3")
    body = response.json()
    candles = body["candles"]
    now = body["server_time"]
    assert [c["start_ts"] for c in candles] == [
        bucket_start(now, M) - k * M for k in (2, 1, 0)
    ]
    assert [c["closed"] for c in candles] == [True, True, False]
    assert all(_ohlcv(c)[:4] == ("61000.000000",) * 4 for c in candles)


def test_the_default_is_500_one_minute_candles_weighing_2(client, minutes, base):
    response = _get(client, "/v1/candles/BTC-USD")
    body = response.json()
    assert body["interval"] == "1m"
    minutes_since_base = (bucket_start(body["server_time"], M) - base) // M + 1
    assert len(body["candles"]) == minutes_since_base  # about 180, under 500
    Trade.objects.filter(seq=1).update(created_at=from_unix_ms(base - 10 * HOUR))
    response = _get(client, "/v1/candles/BTC-USD")
    assert len(response.json()["candles"]) == 500
    assert response["X-RateLimit-Cost"] == "2"


def test_end_without_start_gives_the_last_limit_candles_before_it(
    client, minutes, base
):
    body = _get(client, f"/v1/candles/BTC-USD?end={base + 3 * M}&limit=2").json()
    assert [c["start_ts"] for c in body["candles"]] == [base + M, base + 2 * M]


def test_start_and_end_give_the_first_limit_candles_of_the_range(client, minutes, base):
    url = f"/v1/candles/BTC-USD?start={base}&end={base + 60 * M}&limit=2"
    assert [c["start_ts"] for c in _get(client, url).json()["candles"]] == [
        base,
        base + M,
    ]


def test_an_end_in_the_future_gives_no_future_candles(client, minutes, base):
    body = _get(client, f"/v1/candles/BTC-USD?start={base}&end={MAX_MS}").json()
    last = body["candles"][-1]
    assert last["start_ts"] == bucket_start(body["server_time"], M)
    assert last["closed"] is False
    assert len(body["candles"]) == (last["start_ts"] - base) // M + 1


def test_start_equal_to_end_is_an_empty_list(client, minutes, base):
    body = _get(client, f"/v1/candles/BTC-USD?start={base}&end={base}").json()
    assert body["candles"] == []


def test_paging_forward_gives_what_one_request_gives(client, minutes, base):
    whole = _get(client, f"/v1/candles/BTC-USD?start={base}&limit=9").json()
    pages, start = [], base
    for _ in range(3):
        page = _get(client, f"/v1/candles/BTC-USD?start={start}&limit=3").json()
        pages += page["candles"]
        start = page["candles"][-1]["start_ts"] + M
    assert pages == whole["candles"]


def test_rest_candles_are_the_rebuild_from_the_whole_journal(client, minutes, base):
    """Any window equals the same buckets of a replay of every trade."""
    rows = Trade.objects.order_by("seq").values_list(
        "created_at", "price", "size", "quote"
    )
    journal = [(unix_ms(t), p, s, q) for t, p, s, q in rows]
    now = now_ms()
    full = build_candles(journal, interval_ms=M, start=0, end=base + 9 * M, now=now)
    for start in (base, base + M, base + 2 * M + 1, base + 3 * M):
        body = _get(client, f"/v1/candles/BTC-USD?start={start}&limit=5").json()
        replayed = [c for c in full if c.start >= start][:5]
        assert [(c["start_ts"], c["close"], c["volume"]) for c in body["candles"]] == [
            (c.start, minutes.format_price(c.close), minutes.format_size(c.volume))
            for c in replayed
        ]


def test_a_market_without_trades_has_no_candles(client, btc_usd):
    body = _get(client, "/v1/candles/BTC-USD").json()
    assert body["candles"] == []
    assert body["pair"] == "BTC-USD"


def test_a_candle_request_reads_only_its_window_by_time(client, minutes, base):
    """Two trade reads, each bounded by created_at (the (pair, created_at)
    index), however many trades the pair has."""
    with CaptureQueriesContext(connection) as queries:
        _get(client, f"/v1/candles/BTC-USD?start={base + M}&limit=2")
    table = Trade._meta.db_table
    reads = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]
    assert len(reads) == 2, reads
    for sql in reads:
        where = sql.split("WHERE", 1)[1]
        assert '"created_at" <' in where, sql
    assert '"created_at" >=' in reads[1].split("WHERE", 1)[1]


def test_the_query_plan_uses_the_pair_time_index(minutes, base):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plan")
    qs = Trade.objects.filter(
        pair=minutes,
        created_at__gte=from_unix_ms(base),
        created_at__lt=from_unix_ms(base + 5 * M),
    ).order_by("seq")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = qs.explain()
    assert "trade_pair_time" in plan, plan


# ------------------------------------------------------------------ limits


@pytest.mark.parametrize(
    ("limit", "weight"),
    [("1", "1"), ("100", "1"), ("101", "2"), ("500", "2"), ("501", "5"), ("1000", "5")],
)
def test_limit_sets_the_weight(client, minutes, limit, weight):
    response = _get(client, f"/v1/candles/BTC-USD?limit={limit}")
    assert response.status_code == 200
    assert len(response.json()["candles"]) <= int(limit)
    assert response["X-RateLimit-Cost"] == weight


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-5", "2.0", "", "9" * 5000])
def test_a_bad_limit_is_a_validation_error_at_the_default_weight(
    client, btc_usd, limit
):
    response = _get(client, f"/v1/candles/BTC-USD?limit={limit}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"] == {"field": "limit", "max_limit": 1000}
    assert response["X-RateLimit-Cost"] == "2"


@pytest.mark.parametrize("interval", ["2m", "1M", "1D", "60", "1m%00", "1" * 999])
def test_an_unknown_interval_is_a_validation_error(client, btc_usd, interval):
    response = _get(client, f"/v1/candles/BTC-USD?interval={interval}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert "interval" in response.json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    "query",
    [
        "start=-1",
        "start=abc",
        "start=1.5",
        "start=2024-01-01",
        f"start={MAX_MS + 1}",
        f"end={10**30}",
        "end=" + "9" * 5000,
        "start=%00",
        "end=%F0%9F%92%A5",
        "start=1e3",
    ],
)
def test_absurd_times_are_validation_errors(client, btc_usd, query):
    response = _get(client, f"/v1/candles/BTC-USD?{query}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


def test_start_after_end_is_a_validation_error(client, btc_usd):
    response = _get(client, "/v1/candles/BTC-USD?start=2000&end=1000")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert "start" in response.json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    "query",
    [
        "start=0",
        "end=0",
        "end=1",
        "start=0&end=0",
        f"start={MAX_MS}",
        f"end={MAX_MS}",
        f"start=0&end={MAX_MS}&interval=1d&limit=1000",
        f"start={MAX_MS}&end={MAX_MS}&interval=1d",
        "interval=1d&limit=1000",
        "start=0&interval=1m&limit=1000",
    ],
)
def test_extreme_but_valid_ranges_answer_without_error(client, minutes, query):
    response = _get(client, f"/v1/candles/BTC-USD?{query}")
    assert response.status_code == 200, response.content
    assert len(response.json()["candles"]) <= 1000


def test_the_same_times_as_the_order_list_since_until_are_accepted(client, minutes):
    """Unix ms as on /v1/orders: the same integer parsing (e.g. "1000.0")."""
    response = _get(client, "/v1/candles/BTC-USD?start=1000.0&end=2000")
    assert response.status_code == 200


def test_empty_interval_start_and_end_are_absent_as_on_the_order_list(client, minutes):
    body = _get(client, "/v1/candles/BTC-USD?interval=&start=&end=&limit=2").json()
    assert body["interval"] == "1m"
    assert len(body["candles"]) == 2


def test_an_unknown_pair_is_market_not_found(client, db):
    response = _get(client, "/v1/candles/DOGE-USD")
    assert (response.status_code, error_code(response)) == (404, "MARKET_NOT_FOUND")
