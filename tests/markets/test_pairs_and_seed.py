import pytest
from django.core.exceptions import ValidationError

from apps.accounts.models import Balance, LedgerEntry
from apps.accounts.sandbox import demo_account_seed
from apps.markets.models import Asset, Pair
from apps.markets.services import markets_seed
from tests.factories import PairFactory


@pytest.mark.django_db
def test_seed_is_idempotent_and_keeps_operator_edits(assert_ledger):
    markets_seed()
    Pair.objects.filter(symbol="BTC-USD").update(taker_fee_bps=15)
    markets_seed()
    assert sorted(Pair.objects.values_list("symbol", flat=True)) == [
        "BTC-USD",
        "ETH-BTC",
        "ETH-USD",
    ]
    assert Pair.objects.get(symbol="BTC-USD").taker_fee_bps == 15
    assert Asset.objects.count() == 3
    demo_account_seed()
    demo_account_seed()
    assert LedgerEntry.objects.filter(user__username="demo").count() == 3
    usd = Balance.objects.get(user__username="demo", asset__code="USD")
    assert usd.available == 1_000_000 * 10**6
    assert_ledger()


@pytest.mark.django_db
def test_seeded_pairs_have_an_exact_notional_grid():
    for pair in markets_seed():
        pair.full_clean()
        assert pair.tick_size * pair.lot_size % 10**pair.base.scale == 0
        assert pair.quote_per_tick_lot >= 1


@pytest.mark.django_db
def test_pair_whose_tick_times_lot_is_not_whole_quote_units_is_invalid(btc, usd):
    pair = PairFactory.build(
        symbol="X-Y", base=btc, quote=usd, tick_size=10_000, lot_size=1_000
    )
    with pytest.raises(ValidationError) as err:
        pair.full_clean()
    assert "lot_size" in err.value.message_dict


@pytest.mark.django_db
def test_pair_rejects_maker_fee_above_taker_and_min_size_off_lot(btc, usd):
    pair = PairFactory.build(
        symbol="X-Y", base=btc, quote=usd, maker_fee_bps=30, min_size=15_000
    )
    with pytest.raises(ValidationError) as err:
        pair.full_clean()
    assert {"maker_fee_bps", "min_size"} <= set(err.value.message_dict)


@pytest.mark.django_db
def test_a_pairs_price_and_size_strings_read_back_as_ticks_and_lots(btc_usd):
    for ticks in (0, 1, 6_300_001, 10**12):
        assert btc_usd.parse_price(btc_usd.format_price(ticks)) == ticks
    for lots in (0, 1, 5_000, 10**9):
        assert btc_usd.parse_size(btc_usd.format_size(lots)) == lots
    assert btc_usd.parse_price("63000") == 6_300_000
    with pytest.raises(ValueError):
        btc_usd.parse_price("63000.005")  # off the 0.01 tick
    with pytest.raises(ValueError):
        btc_usd.parse_size("0.00005")  # off the 0.0001 lot
