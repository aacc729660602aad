"""The README's walkthrough, command by command, against a live server on loopback.

A real `formwright serve --no-worker` (and a real `formwright worker`) run as subprocesses over
the tiny random model; each `$ formwright ...` line of the README runs in a shell whose working
directory looks like the repository (`examples/`, `var/`). Outputs are compared with what the
README shows after masking numbers, except `train` (first line) and `generate` (JSON keys),
whose values come from the model.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import pytest

from tests.cli.readme import ROOT, Step, code_snippets, normalized_lines, walkthrough_steps

BIN = Path(sys.executable).parent
STEPS = walkthrough_steps()
SNIPPETS = code_snippets()
README_URL = "http://127.0.0.1:8000"


@dataclass
class Live:
    url: str
    workdir: Path
    env: dict[str, str]  # for the CLI: HOME in workdir, FORMWRIGHT_URL, the venv on PATH
    key: str
    base_model_name: str
    failed: str | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "formwright"), *args], cwd=cwd, env=env, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited ({server.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the server was not ready in {timeout_s} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("walkthrough")
    (workdir / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    (workdir / "home").mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORMWRIGHT_")}
    env |= {
        "FORMWRIGHT_DATA_DIR": str(workdir / "var"),
        "FORMWRIGHT_BASE_MODEL": str(tiny_model_dir),
        "PYTHONUNBUFFERED": "1",
    }
    processes = [
        start(["serve", "--no-worker", "--port", str(port)], env=env, cwd=workdir,
              log=workdir / "server.log")
    ]  # fmt: skip
    try:
        processes.append(start(["worker"], env=env, cwd=workdir, log=workdir / "worker.log"))
        wait_ready(url, processes[0], workdir / "server.log")
        key = (workdir / "var" / "default-team.key").read_text().strip()
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"})
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("FORMWRIGHT_")}
        cli_env.pop("XDG_CONFIG_HOME", None)
        cli_env |= {
            "HOME": str(workdir / "home"),
            "FORMWRIGHT_URL": url,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        yield Live(url, workdir, cli_env, key, models.json()["data"][0]["id"])
    finally:
        for process in reversed(processes):
            stop(process)


def run_shell(command: str, live: Live, *, env: dict[str, str] | None = None, timeout: float = 180):
    return subprocess.run(
        ["bash", "-c", command],
        cwd=live.workdir,
        env=env or live.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def logs(live: Live) -> str:
    parts = []
    for name in ("server.log", "worker.log"):
        path = live.workdir / name
        if path.exists():
            parts.append(f"--- {name} (tail)\n{path.read_text()[-3000:]}")
    return "\n".join(parts)


def check_step(step: Step, result: subprocess.CompletedProcess, live: Live) -> None:
    words = step.command.split()
    context = f"$ {step.command}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{logs(live)}"
    assert result.returncode == 0, context
    if words[1] == "generate" and "--json" not in words:
        output = json.loads(result.stdout)
        assert set(output) == set(json.loads(step.shown[0])), context
        schema = json.loads((ROOT / "examples/ticket-triage/schema.json").read_text())
        jsonschema.validate(output, schema)
    elif words[1] == "train":
        assert normalized_lines(result.stdout)[0] == normalized_lines(step.shown)[0], context
        assert "succeeded" in result.stdout, context
    else:
        assert normalized_lines(result.stdout) == normalized_lines(step.shown), context


@pytest.mark.parametrize("step", STEPS, ids=[s.id for s in STEPS])
def test_walkthrough_step(step: Step, live: Live) -> None:
    if live.failed:
        pytest.fail(f"an earlier step failed: $ {live.failed}")
    command, timeout = step.command, 180.0
    if step.command.split()[1] == "train":
        command, timeout = f"{command} --max-steps 2", 900.0
    try:
        check_step(step, run_shell(command, live, timeout=timeout), live)
    except BaseException:
        live.failed = step.command
        raise


@pytest.mark.parametrize(
    ("language", "code"), SNIPPETS, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(SNIPPETS)]
)
def test_readme_code_runs(language: str, code: str, live: Live) -> None:
    if live.failed:
        pytest.fail(f"a walkthrough step failed: $ {live.failed}")
    # As written, after `formwright login` (the walkthrough's first step, run here when this
    # test runs alone): the key comes from var/default-team.key or the file login wrote; only
    # the address and the model's name are this server's.
    if not Path(live.env["HOME"], ".config/formwright/config.json").exists():
        login = next(s for s in STEPS if s.command.startswith("formwright login"))
        check_step(login, run_shell(login.command, live), live)
    code = code.replace(README_URL, live.url).replace("SmolLM2-135M-Instruct", live.base_model_name)
    env = live.env
    if language == "bash":
        if shutil.which("curl") is None:
            pytest.skip("curl is not installed")
        result = run_shell(code, live, env=env)
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert body.get("valid") is True, body
    else:
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=live.workdir, env=env, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{logs(live)}"
