"""Example answers for the OpenAPI document (checked against real answers by
tests/core/test_openapi_examples.py)."""

from __future__ import annotations

from apps.core.api.schema import answer_example

_EMPTY = [
    {
        "asset": "BTC",
        "available": "0.00000000",
        "held": "0.00000000",
        "total": "0.00000000",
    },
    {"asset": "USD", "available": "0.000000", "held": "0.000000", "total": "0.000000"},
]

BALANCES = answer_example(
    "Balances",
    "USD held by open buys; nothing in margin or earn",
    {
        "spot": [
            {
                "asset": "BTC",
                "available": "10.00400000",
                "held": "0.00000000",
                "total": "10.00400000",
            },
            {
                "asset": "USD",
                "available": "967810.750000",
                "held": "31936.746000",
                "total": "999747.496000",
            },
        ],
        "margin": _EMPTY,
        "earn": _EMPTY,
    },
)
