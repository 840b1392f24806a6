from __future__ import annotations

from typing import Any

import factory

from apps.apikeys.models import ApiKey
from apps.apikeys.services import apikey_create
from tests.factories import UserFactory


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """Creates keys through ``apikey_create``; the plain secret is on ``.secret``.

    Read keys default to any address; ``scope="trade"`` needs ``ip_allowlist``
    (defaults to 127.0.0.1, the test client's address, for non-read scopes).
    """

    class Meta:
        model = ApiKey

    user = factory.SubFactory(UserFactory)
    scope = "read"
    ip_allowlist = factory.LazyAttribute(
        lambda o: [] if o.scope == "read" else ["127.0.0.1"]
    )
    drift_ms = 5_000
    label = ""
    weight_per_minute = None

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **kwargs: Any) -> ApiKey:
        api_key, secret = apikey_create(**kwargs)
        api_key.secret = secret  # type: ignore[attr-defined]
        return api_key
