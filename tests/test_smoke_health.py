"""GET /health answers without a key and reports the database component."""


def test_health_is_public_and_reports_components(server):
    with server.client(key=None) as client:
        response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["state"] == "ok"
    assert body["version"]
