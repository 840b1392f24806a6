from __future__ import annotations

import pytest

from tests.client import urls as fake_server


@pytest.fixture(autouse=True)
def fake_orders():
    fake_server.reset()
    yield fake_server
    fake_server.reset()
