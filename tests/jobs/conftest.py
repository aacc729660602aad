"""A job row in a fresh database, a clock, and a real Celery app on kombu's in-memory broker."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from service.config import Settings
from service.db import session_scope
from service.jobs import queue
from service.models import Job, JobEvent, Team

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def job_id(alice, engine: Engine) -> int:
    """A queued job of team alice (inserted as create_job would, without its message)."""
    version = alice.post("/v1/schemas", json={"name": "weather", "schema": SCHEMA}).json()
    with session_scope(engine) as session:
        team = session.exec(select(Team).where(Team.name == "alice")).one()
        job = Job(team_id=team.id, schema_version_id=version["id"], params={})
        session.add(job)
        session.flush()
        assert job.id is not None
        return job.id


@pytest.fixture
def load(engine: Engine) -> Callable[[int], tuple[Job, list[str]]]:
    """The job as stored now, and its events as "kind: message"."""

    def read(job_id: int) -> tuple[Job, list[str]]:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            events = session.query(JobEvent).filter_by(job_id=job_id).order_by(JobEvent.id)
            return job, [f"{e.kind}: {e.message}" for e in events]

    return read


@pytest.fixture
def broker(tmp_path, alice) -> Callable[[], list[tuple[str, list[Any]]]]:
    """Jobs are sent to an in-memory broker; returns a function draining it: [(task, args)]."""
    queue.use(Settings(data_dir=tmp_path / "broker", broker_url="memory://"))
    app = queue.get_celery()

    def drain() -> list[tuple[str, list[Any]]]:
        sent = []
        with app.connection_for_read() as conn:
            inbox = conn.SimpleQueue(queue.DEFAULT_QUEUE)
            while True:
                try:
                    message = inbox.get(timeout=0.2)
                except inbox.Empty:
                    break
                args, _kwargs, _embed = message.decode()
                sent.append((message.headers["task"], args))
                message.ack()
            inbox.close()
        return sent

    drain()  # nothing left over from an earlier test
    return drain


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)
