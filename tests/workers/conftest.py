"""A real Celery worker as a subprocess, sharing the test's data dir (embedded SQLite broker)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from service.app import create_app
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from tests.fixtures.app import TEST_SECRET, TeamClient, make_team


@dataclass
class Processes:
    """`formwright` subprocesses of one kind, each in its own process group, logged to files."""

    env: dict[str, str]
    log_dir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    kind = "worker"

    def spawn(self, args: list[str], **extra_env: str) -> subprocess.Popen:
        log = (self.log_dir / f"{self.kind}-{len(self.procs)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the process and its children: a crash, not a shutdown."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def logs(self) -> str:
        logs = sorted(self.log_dir.glob(f"{self.kind}-*.log"))
        return "\n".join(p.read_text()[-4000:] for p in logs)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


class Workers(Processes):
    def start(self, **extra_env: str) -> subprocess.Popen:
        return self.spawn(["worker"], **extra_env)


@pytest.fixture
def live_env(tmp_path: Path, tiny_model_dir: Path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir()
    return {
        **os.environ,
        "FORMWRIGHT_DATA_DIR": str(data),
        "FORMWRIGHT_BASE_MODEL": str(tiny_model_dir),
        "FORMWRIGHT_JOB_LEASE_S": "3",
        "FORMWRIGHT_JOB_REDISPATCH_AFTER_S": "2",
        "FORMWRIGHT_JOB_SWEEP_INTERVAL_S": "1",
        "FORMWRIGHT_SECRET_KEY": TEST_SECRET,  # make_team() hashes keys with it
    }


@pytest.fixture
def workers(live_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    w = Workers(env=live_env, log_dir=tmp_path)
    yield w
    w.stop_all()


@pytest.fixture
def live_settings(live_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of this process matching the worker's, for enqueueing from the test app."""
    from service.config import get_settings
    from service.db import get_engine

    for key, value in live_env.items():
        if key.startswith("FORMWRIGHT_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    settings = get_settings()
    upgrade(settings.resolved_database_url)
    yield settings
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def live_app(live_settings: Settings, tiny_runtime) -> Iterator[tuple[TeamClient, object]]:
    db = make_engine(live_settings.resolved_database_url)
    app = create_app(live_settings, db_engine=db, runtime=tiny_runtime)
    with TestClient(app) as client:
        yield TeamClient(client, make_team(db, "alice"), "alice"), db
    db.dispose()


def wait_for_job(team: TeamClient, job_id: int, *, states: set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = team.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not reach {states}: {job}")


__all__ = ["Session", "wait_for_job"]
