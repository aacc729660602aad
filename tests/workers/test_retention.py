"""The worker's sweeper erases logged payloads past FORMWRIGHT_REQUEST_LOG_RETENTION_DAYS; the
numbers behind the metrics stay."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from service.models import RequestLog, Subject, utcnow
from workers import sweeper


@pytest.fixture
def retention(live_env, monkeypatch):
    monkeypatch.setitem(live_env, "FORMWRIGHT_REQUEST_LOG_RETENTION_DAYS", "7")
    return live_env


def logged(db, team_id: int, version_id: int, *, age: timedelta) -> int:
    with Session(db) as session:
        row = RequestLog(
            team_id=team_id,
            schema_version_id=version_id,
            endpoint="generate",
            mode="auto",
            status_code=200,
            valid=True,
            latency_ms=50.0,
            completion_tokens=12,
            input=f"input {age.days} days old",
            output={"age": age.days},
            raw="{}",
            created_at=utcnow() - age,
        )
        session.add(row)
        session.commit()
        return row.id


def test_the_sweeper_erases_payloads_past_the_retention(retention, live_app):
    team, db = live_app
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    version = team.post("/v1/schemas", json={"name": "s", "schema": schema}).json()
    with Session(db) as session:
        team_id = session.exec(select(Subject.team_id)).one()
    old = logged(db, team_id, version["id"], age=timedelta(days=8))
    recent = logged(db, team_id, version["id"], age=timedelta(days=6))

    assert sweeper.erase_expired(now=utcnow(), force=True) == 1
    rows = {r["id"]: r for r in team.get("/v1/schemas/s/requests").json()["data"]}
    assert rows[old]["input"] is None
    assert rows[old]["output"] is None
    assert rows[old]["completion_tokens"] == 12  # the metrics keep their numbers
    assert rows[recent]["input"] == "input 6 days old"
    assert rows[recent]["output"] == {"age": 6}
    # Hourly at most: the next sweep in the same hour leaves the table alone.
    assert sweeper.erase_expired(now=utcnow()) == 0
    sweeper.sweep_once()
