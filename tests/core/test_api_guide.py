"""/v1/docs alone is enough to integrate: the spec's description carries the
signing guide, a worked example that holds for the real signer and server,
the error shape and the input rules."""

from __future__ import annotations

import json
import re

import pytest

from apps.apikeys.crypto import encrypt_secret
from apps.apikeys.models import ApiKey
from apps.core.api.guide import API_DESCRIPTION
from apps.core.api.parsers import DEFAULT_MAX_BODY_BYTES
from exchange.client import signing
from tests.apikeys.helpers import assert_vector_holds

pytestmark = pytest.mark.django_db


@pytest.fixture
def description(client) -> str:
    return client.get("/v1/openapi.json").json()["info"]["description"]


def _example(description: str) -> dict[str, str]:
    blocks = re.findall(r"```json\n(.*?)\n```", description, re.S)
    vectors = [v for v in map(json.loads, blocks) if "signature" in v]
    assert len(vectors) == 1
    return vectors[0]


def test_the_spec_carries_the_guide_not_a_pointer_to_the_repository(description):
    assert description == API_DESCRIPTION
    assert "See docs/" not in description
    for header in signing.SIGNING_HEADERS:
        assert f"`{header}`" in description
    assert '{"error": {"code": ' in description  # the error shape
    for line in ("v2\n{signing domain", "{X-Api-Timestamp", "{METHOD, upper case}"):
        assert line in description


def test_the_worked_example_holds_for_the_signer(description):
    vector = _example(description)
    assert_vector_holds(vector)
    # The OpenSSL line signs the same prehash, with the same secret.
    printf, secret = re.search(
        r"printf '(.*?)'.*-hmac '(.*?)'", description, re.S
    ).groups()
    assert printf.replace("\\n", "\n") == vector["prehash"]
    assert secret == vector["secret"]


def test_the_worked_example_places_its_order_on_the_server(
    client, funded, alice, settings, monkeypatch
):
    """Sent byte for byte at its own timestamp, the example is accepted."""
    import apps.core.middleware

    vector = _example(API_DESCRIPTION)
    settings.EXCHANGE_ENV = signing.key_environment(vector["key"])
    settings.ORDER_RESULT_TIMEOUT_MS = 30  # no matcher here: answered pending
    ApiKey.objects.create(
        user=alice,
        key=vector["key"],
        secret_encrypted=encrypt_secret(vector["secret"]),
        scope="trade",
        ip_allowlist=["127.0.0.1"],
    )
    monkeypatch.setattr(
        apps.core.middleware, "now_ms", lambda: int(vector["timestamp"])
    )
    response = client.post(
        vector["path"],
        data=vector["body"].encode(),
        content_type="application/json",
        headers={
            "X-Api-Key": vector["key"],
            "X-Api-Timestamp": vector["timestamp"],
            "X-Api-Nonce": vector["nonce"],
            "X-Api-Signature": vector["signature"],
        },
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 202, response.content
    assert (response.json()["status"], response.json()["size"]) == (
        "pending",
        "0.01500000",
    )


def test_the_documented_limits_are_the_code_s(description):
    assert f"{DEFAULT_MAX_BODY_BYTES:,}" in description
