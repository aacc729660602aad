"""/metrics names teams and schemas: it needs FORMWRIGHT_METRICS_TOKEN unless opened as `public`."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app


@pytest.mark.parametrize(
    ("token", "header", "status"),
    [
        (None, None, 403),
        (None, "Bearer anything", 403),
        ("s3cret-scrape", None, 401),
        ("s3cret-scrape", "Bearer wrong", 401),
        ("s3cret-scrape", "Bearer s3cret-scrape", 200),
        ("public", None, 200),
    ],
)
def test_metrics_need_the_scrape_token(settings, engine, token, header, status):
    settings.metrics_token = token
    with TestClient(create_app(settings, db_engine=engine)) as client:
        r = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert r.status_code == status, r.text
    if status == 200:
        assert "formwright_" in r.text
    else:
        assert set(r.json()) == {"error", "detail", "errors"}
        assert "FORMWRIGHT_METRICS_TOKEN" in r.json()["detail"]
