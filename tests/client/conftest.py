from __future__ import annotations

import pytest

from tests.apikeys.conftest import fresh_cache  # noqa: F401 - same cache hygiene
from tests.client import urls as fake_server


@pytest.fixture(autouse=True)
def fake_orders():
    fake_server.reset()
    yield fake_server
    fake_server.reset()
