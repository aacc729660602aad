"""The client commands against a fake server: output switches, errors, following a job."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli import jobs, output, schemas
from cli.client import Client
from cli.main import app

Handler = Callable[[httpx.Request], httpx.Response]
OUTPUT = {"category": "bug", "product": "Juno kettle", "order_id": None, "urgent": True}
GENERATED = {
    "output": OUTPUT,
    "valid": True,
    "errors": [],
    "schema": {"name": "tickets", "version": 1, "id": 1},
    "adapter": 3,
    "decoding": "adapter",
    "attempts": [],
    "latency_ms": 12.5,
    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
}


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Handler], list[httpx.Request]]]:
    """Point the CLI at a fake server; returns the requests it received."""
    monkeypatch.setattr(jobs, "POLL_S", 0)

    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def recording(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        transport = httpx.MockTransport(recording)
        monkeypatch.setattr(
            Client,
            "from_env",
            classmethod(lambda cls, **kw: cls("http://fw.test", "fw_key", transport=transport)),
        )
        return seen

    return install


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def error(status: int, code: str, detail: str, errors: list | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "detail": detail, "errors": errors or []})


@pytest.mark.parametrize("tty", [False, True])
def test_generate_is_compact_when_piped_and_pretty_on_a_terminal(serve, monkeypatch, tty):
    monkeypatch.setattr(output, "is_tty", lambda: tty)
    seen = serve(lambda r: httpx.Response(200, json=GENERATED))
    result = run("generate", "tickets", "my kettle sparks", "--max-tokens", "64")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == OUTPUT
    if tty:
        assert result.stdout.count("\n") > 4
        assert '\n  "category": "bug"' in result.stdout
    else:
        assert result.stdout == json.dumps(OUTPUT, separators=(",", ":")) + "\n"
    assert json.loads(seen[0].content) == {"input": "my kettle sparks", "max_tokens": 64}


def test_generate_reads_stdin_and_json_gives_the_full_response(serve):
    seen = serve(lambda r: httpx.Response(200, json=GENERATED))
    result = run("generate", "tickets", "-", "--json", input="from stdin\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == GENERATED
    assert json.loads(seen[0].content)["input"] == "from stdin\n"


def test_generate_error_exits_1_with_the_servers_detail(serve):
    serve(
        lambda r: error(
            422,
            "unconformant_output",
            "No output that validates against the schema could be produced (max_tokens ran out).",
            [{"path": "", "message": "raw output", "raw": '{"category": "bu'}],
        )
    )
    result = run("generate", "tickets", "hello")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: No output that validates" in result.stderr
    assert 'raw output: {"category": "bu' in result.stderr


def test_unvalidated_output_in_unconstrained_mode_exits_1(serve):
    body = {**GENERATED, "valid": False, "errors": [{"path": "/urgent", "message": "required"}]}
    serve(lambda r: httpx.Response(200, json=body))
    result = run("generate", "tickets", "hello", "--mode", "unconstrained")
    assert result.exit_code == 1
    assert "/urgent: required" in result.stderr


def test_unreachable_server_exits_1(serve):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    serve(refuse)
    result = run("schemas", "list")
    assert result.exit_code == 1
    assert "Cannot reach Formwright at http://fw.test" in result.stderr


def test_import_lists_every_bad_row_with_its_file_line(serve, tmp_path: Path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input": "ok", "output": {}}\n\n{"input": "bad"}\n{"input": "worse"}\n')
    serve(
        lambda r: error(
            422,
            "invalid_examples",
            "2 of 3 examples are invalid; none were stored.",
            [
                {"index": 1, "path": "/output/category", "message": "'x' is not one of [...]"},
                {"index": 2, "line": 4, "path": "", "message": "Expecting value"},
            ],
        )
    )
    result = run("examples", "import", "tickets", str(rows))
    assert result.exit_code == 1
    assert "error: 2 of 3 examples are invalid; none were stored." in result.stderr
    assert "row 2 line 3 /output/category: 'x' is not one of [...]" in result.stderr
    assert "row 3 line 4: Expecting value" in result.stderr


def test_import_success(serve, tmp_path: Path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input": "a", "output": {}}\n')
    seen = serve(
        lambda r: httpx.Response(
            201, json={"name": "tickets", "version": 1, "added": 1, "duplicates": 0, "ids": [1]}
        )
    )
    result = run("examples", "import", "tickets", str(rows))
    assert result.exit_code == 0, result.output
    assert "imported 1 examples into tickets version 1" in result.stdout
    assert seen[0].headers["content-type"] == "application/x-ndjson"


def test_eval_pins_imported_and_added_examples(serve, tmp_path: Path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input": "a", "output": {}}\n\n{"input": "b", "output": {}}\nnot json\n')
    seen = serve(
        lambda r: httpx.Response(
            201, json={"name": "tickets", "version": 1, "added": 1, "duplicates": 0, "ids": [1]}
        )
    )
    assert run("examples", "import", "tickets", str(rows), "--eval").exit_code == 0
    lines = seen[0].content.decode().split("\n")
    assert [json.loads(line)["eval"] for line in lines[:1] + lines[2:3]] == [True, True]
    assert lines[1] == ""  # blank lines and bad lines kept: errors name the file line
    assert lines[3] == "not json"
    assert (
        run("examples", "add", "tickets", "--input", "c", "--output", "{}", "--eval").exit_code == 0
    )
    assert json.loads(seen[1].content) == [{"input": "c", "eval": True, "output": {}}]


def test_lists_are_tables_and_json_for_scripts(serve):
    subjects = [
        {
            "name": "tickets",
            "latest_version": 2,
            "versions": 2,
            "compatibility": "BACKWARD",
            "mode": "READWRITE",
            "created_at": "2026-11-02T10:00:00",
            "deleted": False,
        }
    ]
    serve(lambda r: httpx.Response(200, json={"data": subjects, "count": 1}))
    result = run("schemas", "list")
    assert result.exit_code == 0, result.output
    assert "tickets" in result.stdout
    assert "BACKWARD" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when not on a terminal
    result = run("schemas", "list", "--json")
    assert json.loads(result.stdout) == subjects


def test_check_exits_1_when_not_compatible(serve, tmp_path: Path):
    schema = tmp_path / "next.json"
    schema.write_text('{"type": "object"}')
    serve(
        lambda r: httpx.Response(
            200,
            json={
                "compatible": False,
                "compatibility": "BACKWARD",
                "errors": [{"version": 1, "path": "/required", "message": "adds a required field"}],
                "fingerprint": "f",
                "capabilities": {},
            },
        )
    )
    result = run("schemas", "check", "tickets", str(schema))
    assert result.exit_code == 1
    assert "not compatible with tickets (BACKWARD)" in result.stdout
    assert "version 1 /required: adds a required field" in result.stdout


def job(state: str, **fields) -> dict:
    return {
        "id": 7,
        "name": "tickets",
        "version": 1,
        "state": state,
        "stage": fields.pop("stage", "train"),
        "progress": 0.0,
        "step": 0,
        "total_steps": 0,
        "loss": None,
        "tokens_per_s": None,
        "eta_s": None,
        "metrics": None,
        "error": None,
        "adapter_id": None,
        "events": [],
        **fields,
    }


METRICS = {
    "base": {"conformance": 0.4, "exact_match": 0.1, "field_accuracy": {"overall": 0.5}},
    "adapter_constrained": {
        "conformance": 1.0,
        "exact_match": 0.8,
        "field_accuracy": {"overall": 0.95, "per_path": {"/category": 0.9}},
    },
    "test_examples": 10,
}


def test_train_follows_the_job_then_prints_the_evaluation(serve):
    states = iter(
        [
            job("queued", stage="synthesize"),
            job("training", progress=0.5, step=5, total_steps=10, loss=1.25, tokens_per_s=140.0,
                eta_s=20, events=[{"kind": "started", "message": "fine-tuning",
                                   "created_at": "2026-11-02T10:00:00"}]),
            job("succeeded", stage="promote", progress=1.0, step=10, total_steps=10, loss=0.5,
                metrics=METRICS, adapter_id=3),
        ]
    )  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert json.loads(request.content) == {"max_steps": 10, "synthesis": {"enabled": False}}
            return httpx.Response(202, json=job("queued"))
        return httpx.Response(200, json=next(states))

    serve(handler)
    result = run("train", "tickets", "--max-steps", "10", "--no-synthesis")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "queued job 7 for tickets version 1" in out
    assert "started: fine-tuning" in out
    assert "job 7 succeeded; adapter 3" in out
    assert "adapter constrained" in out
    assert "field_accuracy /category" in out
    assert "95.0%" in out
    assert "40.0%" in out
    assert "test examples: 10" in out


def test_a_failed_job_exits_1(serve):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json=job("queued"))
        return httpx.Response(200, json=job("failed", error="out of memory"))

    serve(handler)
    result = run("train", "tickets")
    assert result.exit_code == 1
    assert "job 7 failed: out of memory" in result.stdout


def test_ctrl_c_detaches_without_cancelling(serve):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json=job("queued"))
        raise KeyboardInterrupt

    seen = serve(handler)
    result = run("train", "tickets")
    assert result.exit_code == 0
    assert "detached; job 7 keeps running" in result.stderr
    assert not [r for r in seen if r.url.path.endswith("/cancel")]


def test_structural_diff():
    old = {
        "type": "object",
        "properties": {"a": {"type": "string", "maxLength": 5}},
        "required": ["a"],
    }
    new = {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"], "maxLength": 9}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    assert schemas.structural_diff(old, new) == [
        {"op": "~", "path": "/properties/a/type", "old": "string", "new": ["string", "null"]},
        {"op": "~", "path": "/properties/a/maxLength", "old": 5, "new": 9},
        {"op": "+", "path": "/properties/b", "new": {"type": "integer"}},
        {"op": "+", "path": "/required", "new": "b"},
    ]
    assert schemas.structural_diff(old, old) == []


def test_diff_command_prints_changes(serve):
    versions = {
        "1": {"type": "object", "properties": {"a": {"type": "string"}}},
        "2": {"type": "object", "properties": {"a": {"type": "string"}, "b/c": {"type": "null"}}},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        number = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json={"schema": versions[number]})

    serve(handler)
    result = run("schemas", "diff", "tickets", "1", "2")
    assert result.exit_code == 0, result.output
    assert '+ /properties/b~1c: {"type":"null"}' in result.stdout


def test_login_checks_the_key_and_saves_it_privately(serve, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("FORMWRIGHT_URL", raising=False)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["authorization"] != "Bearer fw_good":
            return error(401, "unauthorized", "Invalid API key.")
        return httpx.Response(200, json={"data": [], "count": 0})

    transport = httpx.MockTransport(handler)
    real_init = Client.__init__
    monkeypatch.setattr(
        Client,
        "__init__",
        lambda self, url, key, **kw: real_init(self, url, key, transport=transport),
    )
    result = run("login", "--url", "http://fw.test", "--key", "fw_bad")
    assert result.exit_code == 1
    assert "Invalid API key." in result.stderr
    assert not (tmp_path / "formwright" / "config.json").exists()
    result = run("login", "--url", "http://fw.test", "--key", "fw_good")
    assert result.exit_code == 0, result.output
    saved = tmp_path / "formwright" / "config.json"
    assert json.loads(saved.read_text()) == {"url": "http://fw.test", "api_key": "fw_good"}
    assert saved.stat().st_mode & 0o777 == 0o600
