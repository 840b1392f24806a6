"""Query strings: a parameter given twice is refused.

``?pair=BTC-USD&pair=ETH-USD`` would otherwise mean whichever value the view
happened to read (Django's ``QueryDict.get`` takes the last), which a client
cannot know: as a repeated JSON key in a body is VALIDATION_DUPLICATE_KEY, a
repeated query parameter is VALIDATION_DUPLICATE_PARAM, whatever its values.
No /v1 operation takes a list as repeated parameters.
"""

from __future__ import annotations

from django.http import QueryDict

from apps.core.errors import DomainError, ErrorCode


def check_query(query: QueryDict) -> None:
    """VALIDATION_DUPLICATE_PARAM (``details.param``: the first repeated name,
    as decoded) when a parameter appears more than once; else return."""
    for name, values in query.lists():
        if len(values) > 1:
            raise DomainError(
                f"The query parameter {name[:64]!r} is given {len(values)} times; "
                "give it once.",
                code=ErrorCode.VALIDATION_DUPLICATE_PARAM,
                details={"param": name[:64]},
            )
