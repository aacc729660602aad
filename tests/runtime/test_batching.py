"""Batched decoding: concurrent requests for different schemas and adapters share the running
batch (continuous batching, runtime/continuous.py) and answer exactly as they would alone;
promotion under traffic fails no request."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlmodel import Session, select

from runtime import AdapterRefused, GenerateRequest, ModelRuntime
from service.app import create_app
from service.metrics.prom import PrometheusEvents
from service.models import Adapter, Team
from tests.fixtures.app import TeamClient, make_team
from tests.runtime.test_adapters import make_adapter

NAME = {
    "type": "object",
    "properties": {"a": {"type": "string", "maxLength": 6}},
    "required": ["a"],
}
PICK = {
    "type": "object",
    "properties": {
        "size": {"enum": ["small", "large"]},
        "n": {"type": "integer", "minimum": 0, "maximum": 99},
    },
    "required": ["size", "n"],
}


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture(scope="module")
def batched(tiny_model_dir: Path) -> ModelRuntime:
    runtime = ModelRuntime(
        model_path=tiny_model_dir, max_loaded_adapters=2, events=PrometheusEvents()
    )
    runtime.load()
    return runtime


@pytest.fixture(scope="module")
def adapters(batched: ModelRuntime, tiny_model_dir: Path, tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("batch-adapters")
    fingerprint = batched.model_fingerprint
    return [
        make_adapter(root / f"b{i}", tiny_model_dir, seed=10 + i, fingerprint=fingerprint)
        for i in range(3)
    ]


def all_at_once(runtime: ModelRuntime, calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls concurrently; each result, or the exception it raised."""

    def run(call):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - compared by the test
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def requests(adapters: list[str]) -> list[tuple[GenerateRequest, str | None]]:
    """Two schemas, constrained and free rows, base and two adapters, different budgets."""
    return [
        (GenerateRequest(schema=NAME, input="alpha", mode="constrained", max_tokens=20), None),
        (GenerateRequest(schema=PICK, input="beta", mode="constrained", max_tokens=30), None),
        (GenerateRequest(schema=NAME, input="gamma", mode="unconstrained", max_tokens=7), None),
        (
            GenerateRequest(schema=PICK, input="delta", mode="constrained", max_tokens=30),
            adapters[0],
        ),
        (
            GenerateRequest(schema=NAME, input="alpha", mode="unconstrained", max_tokens=16),
            adapters[1],
        ),
        (
            GenerateRequest(schema=NAME, input="alpha", mode="constrained", max_tokens=20),
            adapters[1],
        ),
    ]


def test_a_mixed_batch_answers_as_each_request_alone(batched, adapters):
    work = requests(adapters)
    alone = [batched.generate(req, adapter=adapter) for req, adapter in work]
    forwards = batched.batcher.forwards
    together = all_at_once(
        batched, [lambda r=r, a=a: batched.generate(r, adapter=a) for r, a in work]
    )
    # the rows shared forwards: far fewer than decoding them one after the other
    assert batched.batcher.forwards - forwards < sum(g.usage.completion_tokens for g in alone)
    assert [g.raw for g in together] == [g.raw for g in alone]
    assert [g.finish_reason for g in together] == [g.finish_reason for g in alone]
    assert [g.usage.completion_tokens for g in together] == [
        g.usage.completion_tokens for g in alone
    ]
    assert together[2].usage.completion_tokens <= 7  # each row kept its own budget
    assert all(g.valid for g, (r, _) in zip(together, work, strict=True) if r.mode == "constrained")


def test_a_request_alone_does_not_wait_for_company(batched):
    waited = sample("formwright_batch_wait_seconds_sum")
    batched.generate(GenerateRequest(schema=NAME, input="solo", mode="constrained", max_tokens=8))
    assert sample("formwright_batch_wait_seconds_sum") - waited < 0.5


def test_sampled_requests_stay_reproducible_in_any_company(batched):
    request = GenerateRequest(
        schema=NAME, input="x", mode="unconstrained", max_tokens=10, temperature=1.0, seed=3
    )
    greedy = GenerateRequest(schema=PICK, input="y", mode="constrained", max_tokens=20)
    alone = batched.generate(request).raw
    together = all_at_once(
        batched, [lambda: batched.generate(request), lambda: batched.generate(greedy)] * 2
    )
    assert [together[0].raw, together[2].raw] == [alone] * 2


def test_a_batch_never_holds_more_adapters_than_can_be_attached(batched, adapters):
    work = [
        (GenerateRequest(schema=NAME, input="q", mode="unconstrained", max_tokens=8), adapter)
        for adapter in adapters  # three adapters, two slots
    ]
    alone = [batched.generate(req, adapter=adapter).raw for req, adapter in work]
    together = all_at_once(
        batched, [lambda r=r, a=a: batched.generate(r, adapter=a) for r, a in work]
    )
    # Attaching the third never evicts one a running row uses (that row would fail): it
    # waits for a row of another adapter to finish.
    assert [g.raw for g in together] == alone


def test_a_refused_adapter_fails_its_own_request_only(batched, adapters, tiny_model_dir, tmp_path):
    bad = make_adapter(tmp_path / "bad", tiny_model_dir, seed=99, fingerprint="sha256:other")
    request = GenerateRequest(schema=NAME, input="q", mode="unconstrained", max_tokens=8)
    good = batched.generate(request, adapter=adapters[0]).raw
    refused, served = all_at_once(
        batched,
        [
            lambda: batched.generate(request, adapter=bad),
            lambda: batched.generate(request, adapter=adapters[0]),
        ],
    )
    assert isinstance(refused, AdapterRefused)
    assert served.raw == good


def test_promotion_during_traffic_fails_no_request(settings, engine, tiny_runtime, tmp_path):
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        version = alice.post("/v1/schemas", json={"name": "names", "schema": NAME}).json()
        ids, expected = [], {}
        with Session(engine) as session:
            for seed in (1, 2):
                path = make_adapter(
                    tmp_path / f"p{seed}",
                    tiny_runtime.model_path,
                    seed=seed,
                    fingerprint=tiny_runtime.model_fingerprint,
                )
                adapter = Adapter(
                    team_id=session.exec(select(Team).where(Team.name == "alice")).one().id,
                    schema_version_id=version["id"],
                    path=path,
                    base_fingerprint=tiny_runtime.model_fingerprint,
                    manifest={},
                )
                session.add(adapter)
                session.commit()
                ids.append(adapter.id)
        body = {"input": "who?", "mode": "constrained", "max_tokens": 12}
        for adapter_id in ids:
            assert alice.post(f"/v1/adapters/{adapter_id}/promote").status_code == 200
            expected[adapter_id] = alice.post("/v1/schemas/names/generate", json=body).json()

        answers: list = []
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                answers.append(alice.post("/v1/schemas/names/generate", json=body))

        clients = [threading.Thread(target=traffic) for _ in range(4)]
        for thread in clients:
            thread.start()
        for adapter_id in [*ids, *ids, *ids]:
            assert alice.post(f"/v1/adapters/{adapter_id}/promote").status_code == 200
            seen = len(answers)
            while len(answers) < seen + 2:
                stop.wait(0.01)
        stop.set()
        for thread in clients:
            thread.join()

    assert [r.status_code for r in answers] == [200] * len(answers)
    served = {r.json()["adapter"] for r in answers}
    assert served == set(ids)
    for r in answers:  # each answer is the one its reported adapter gives
        assert r.json()["output"] == expected[r.json()["adapter"]]["output"]
