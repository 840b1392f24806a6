"""Every cancel endpoint needs the trade scope: a read-only key cancels
nothing."""

from __future__ import annotations

import pytest

from apps.orders.models import CancelAllAfter, CommandKind, Order, OrderCommand
from tests.apikeys.helpers import error_code, signed
from tests.helpers import LIMIT_BUY
from tests.orders.helpers import post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_wait")]


@pytest.fixture
def open_order(client, funded, key, matcher):
    order = post(client, key, {**LIMIT_BUY, "response_type": "ack"}).json()
    matcher()
    assert Order.objects.get(uuid=order["id"]).status == "open"
    return order


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/orders/{id}/cancel", None),
        ("/v1/orders/client:{client_order_id}/cancel", None),
        ("/v1/orders/cancel-all", None),
        ("/v1/orders/cancel-all", {"pair": "BTC-USD"}),
        ("/v1/orders/cancel-all-after", {"timeout_s": 10}),
    ],
)
def test_a_read_key_cannot_cancel_and_nothing_is_cancelled(
    client, alice, read_key, open_order, matcher, path, payload
):
    Order.objects.filter(uuid=open_order["id"]).update(client_order_id="mine-1")
    target = path.format(id=open_order["id"], client_order_id="mine-1")
    response = signed(client, read_key, "POST", target, payload)
    assert (response.status_code, error_code(response)) == (
        403,
        "PERMISSION_SCOPE_MISSING",
    )
    assert response.json()["error"]["details"] == {
        "required_scope": "trade",
        "key_scope": "read",
    }
    assert not OrderCommand.objects.filter(kind=CommandKind.CANCEL).exists()
    assert not CancelAllAfter.objects.exists()
    matcher()
    assert Order.objects.get(uuid=open_order["id"]).status == "open"
