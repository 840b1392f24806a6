"""docs/signing.md's test vectors hold for exchange.client.signing, for the
hkt_sign console script, and for the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from apps.apikeys.crypto import encrypt_secret
from apps.apikeys.models import ApiKey
from exchange.client import signing
from exchange.client.sign_cli import main as hkt_sign
from tests.apikeys.helpers import assert_vector_holds

DOC = Path(__file__).resolve().parents[2] / "docs" / "signing.md"


def doc_vectors() -> list[dict[str, str]]:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    return [v for v in map(json.loads, blocks) if "signature" in v]


VECTORS = doc_vectors()


def test_docs_publish_the_three_required_vectors():
    kinds = {(v["method"], "?" in v["path"], bool(v["body"])) for v in VECTORS}
    assert ("GET", False, False) in kinds  # empty body
    assert ("GET", True, False) in kinds  # query string
    assert ("POST", False, True) in kinds
    assert any(not v["body"].isascii() for v in VECTORS)  # non-ASCII body


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['method']} {v['path']}")
def test_doc_vector_matches_the_signing_module(vector):
    assert_vector_holds(vector)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['method']} {v['path']}")
def test_doc_vector_matches_hkt_sign(vector, monkeypatch, capsys):
    monkeypatch.setenv("HKT_KEY", vector["key"])
    monkeypatch.setenv("HKT_SECRET", vector["secret"])
    argv = [
        vector["method"],
        vector["path"],
        vector["body"],
        vector["timestamp"],
        vector["nonce"],
    ]
    assert hkt_sign(argv) == 0
    assert capsys.readouterr().out.strip() == vector["signature"]


def test_hkt_sign_without_credentials_explains_and_fails(monkeypatch, capsys):
    monkeypatch.delenv("HKT_KEY", raising=False)
    monkeypatch.delenv("HKT_SECRET", raising=False)
    assert hkt_sign(["GET", "/v1/time", "", "1714521600000", "7f3a1b8e"]) == 2
    assert "HKT_KEY" in capsys.readouterr().err


def test_docs_publish_a_vector_per_environment_and_a_legacy_one():
    versions = {signing.key_environment(v["key"]) for v in VECTORS}
    assert versions == {"sandbox", "production", None}
    for vector in VECTORS:
        env = signing.key_environment(vector["key"])
        first = vector["prehash"].split("\n", 2)[:2]
        if env is None:
            assert first[0] == "v1" and first[1] == vector["timestamp"]
        else:
            assert first == ["v2", signing.signing_domain(env)]


ENV_VECTORS = [
    v
    for v in VECTORS
    if v["path"] == "/v1/account/api-key" and signing.key_environment(v["key"])
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "vector", ENV_VECTORS, ids=lambda v: signing.key_environment(v["key"])
)
def test_server_accepts_the_empty_body_doc_vector(
    client, alice, monkeypatch, settings, vector
):
    import apps.core.middleware

    settings.EXCHANGE_ENV = signing.key_environment(vector["key"])
    ApiKey.objects.create(
        user=alice, key=vector["key"], secret_encrypted=encrypt_secret(vector["secret"])
    )
    monkeypatch.setattr(
        apps.core.middleware, "now_ms", lambda: int(vector["timestamp"])
    )
    response = client.get(
        vector["path"],
        headers={
            "X-Api-Key": vector["key"],
            "X-Api-Timestamp": vector["timestamp"],
            "X-Api-Nonce": vector["nonce"],
            "X-Api-Signature": vector["signature"],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["key"] == vector["key"]
