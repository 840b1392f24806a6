from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from apps.accounts.models import Account
from apps.markets.models import Asset, Pair


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    account = factory.RelatedFactory(
        "tests.factories.AccountFactory", factory_related_name="user"
    )


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"A{n}")
    name = factory.LazyAttribute(lambda a: a.code)
    scale = 8


class PairFactory(factory.django.DjangoModelFactory):
    """Defaults match the seeded BTC-USD: tick 0.01 USD, lot 0.0001 BTC."""

    class Meta:
        model = Pair
        django_get_or_create = ("symbol",)

    base = factory.SubFactory(AssetFactory)
    quote = factory.SubFactory(AssetFactory)
    symbol = factory.LazyAttribute(lambda p: f"{p.base.code}-{p.quote.code}")
    tick_size = 10_000
    lot_size = 10_000
    min_size = 10_000
    min_notional = 1_000_000
    maker_fee_bps = 10
    taker_fee_bps = 20
    price_band_bps = 500
