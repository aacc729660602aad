"""A training job as a new user runs it: the real base model, a `formwright worker` process,
the service's HTTP API, the defaults. Registers a dev set's schema, adds its first --examples
training examples, starts a job with no parameters and times it from the request to
`succeeded`, stage by stage (from the job's events), with what the job reports of its
training and evaluation.

    .venv/bin/python bench/job.py [--datasets snips-weather,snips-commands] [--examples 400]

Each dataset runs in a fresh data directory (SQLite, the embedded broker), one worker, nothing
else on the machine's cores but the API answering the polls (every 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT / "bench" / "data"


def run_job(dataset: str, examples: int, base: Path, work: Path) -> dict:
    """The job's final state and its wall time (s). The worker process, the team and the
    polling are the worker tests' own (tests/workers/conftest.py)."""
    from fastapi.testclient import TestClient

    from bench.train import read
    from service.app import create_app
    from service.config import Settings
    from service.db import make_engine
    from service.migrate import upgrade
    from tests.fixtures.app import TEST_SECRET, TeamClient, make_team
    from tests.workers.conftest import Workers, wait_for_job

    data = work / dataset
    data.mkdir(parents=True)
    env = {
        **os.environ,
        "FORMWRIGHT_DATA_DIR": str(data),
        "FORMWRIGHT_BASE_MODEL": str(base),
        "FORMWRIGHT_SECRET_KEY": TEST_SECRET,  # make_team hashes keys with it
    }
    # The API here only registers, adds examples and polls: it loads no model of its own.
    settings = Settings(
        data_dir=data, base_model=str(base), secret_key=TEST_SECRET, load_model=False
    )
    upgrade(settings.resolved_database_url)
    db = make_engine(settings.resolved_database_url)
    folder = DATASETS / dataset
    schema = json.loads((folder / "schema.json").read_text())
    train = read(folder / "train.jsonl")[:examples]
    workers = Workers(env=env, log_dir=data)
    workers.start()
    try:
        with TestClient(create_app(settings, db_engine=db)) as client:
            team = TeamClient(client, make_team(db, "bench"), "bench")
            r = team.post("/v1/schemas", json={"name": dataset, "schema": schema})
            assert r.status_code == 201, r.text
            body = [{"input": pair.input, "output": pair.output} for pair in train]
            r = team.post(f"/v1/schemas/{dataset}/examples", json=body)
            assert r.status_code == 201, r.text
            start = time.monotonic()
            r = team.post(f"/v1/schemas/{dataset}/jobs", json={})
            assert r.status_code == 202, r.text
            states = {"succeeded", "failed", "cancelled"}
            job = wait_for_job(team, r.json()["id"], states=states, timeout=3600)
            wall = time.monotonic() - start
    finally:
        workers.stop_all()
        db.dispose()
    if job["state"] != "succeeded":
        raise SystemExit(f"{dataset}: job {job['state']}: {job['error']}\n{workers.logs()}")
    return {"job": job, "wall": wall}


def stage_times(job: dict) -> list[tuple[str, float]]:
    """Seconds of each stage, from one `stage_done` event to the next (the first from the
    job's creation: its wait for the worker is in the first stage)."""
    last = datetime.fromisoformat(job["created_at"])
    times = []
    for event in job["events"] or []:
        if event["kind"] == "stage_done":
            at = datetime.fromisoformat(event["created_at"])
            times.append((event["message"].split()[1], (at - last).total_seconds()))
            last = at
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="snips-weather,snips-commands")
    parser.add_argument("--examples", type=int, default=400)
    args = parser.parse_args()
    from service.config import Settings
    from training.modeling import resolve_base_model

    base = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    print(f"bench/job.py  examples={args.examples}  base={base.name}  cpus={os.cpu_count()}")
    work = Path(tempfile.mkdtemp(prefix="formwright-job-"))
    try:
        for dataset in args.datasets.split(","):
            result = run_job(dataset, args.examples, base, work)
            job, data = result["job"], result["job"]["data"] or {}
            training = data.get("training", {})
            print(f"\n{dataset}: {args.examples} examples, job {job['id']} {job['state']}")
            print(f"{'stage':24} {'seconds':>8}")
            for stage, seconds in stage_times(job):
                print(f"{stage:24} {seconds:8.0f}")
            print(f"{'job wall time':24} {result['wall']:8.0f}  ({result['wall'] / 60:.1f} min)")
            print(
                f"training: {training.get('steps')} of {training.get('planned_steps')} steps, "
                f"{training.get('precision')}, {job.get('tokens_per_s') or 0:.0f} tokens/s; "
                f"dataset: {json.dumps(data.get('dataset'))}"
            )
            print(f"metrics: {json.dumps(job.get('metrics'))}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
