import pytest


@pytest.mark.django_db
def test_health_reports_database_and_channel_layer(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": True, "channel_layer": True},
    }
    assert response["X-Request-Id"]
    assert int(response["X-Server-Time"]) > 1_700_000_000_000


@pytest.mark.django_db
def test_unknown_v1_path_is_a_json_404_with_the_error_shape(client):
    response = client.get("/v1/nope")
    assert response.status_code == 404
    body = response.json()["error"]
    assert body["code"] == "NOT_FOUND"
    assert body["request_id"] == response["X-Request-Id"]


@pytest.mark.django_db
def test_a_degraded_dependency_is_a_503_with_retry_after(client, monkeypatch):
    from apps.core import selectors

    monkeypatch.setattr(selectors, "database_ok", lambda: False)
    response = client.get("/v1/health")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": False, "channel_layer": True}
    assert response["Retry-After"] == "5"
