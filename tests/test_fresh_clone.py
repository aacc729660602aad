"""The repository sets itself up anywhere: a clone outside this tree runs the real-model tests
and a one-input generation benchmark with nothing but what is committed (datasets included).

The clone reuses this environment's packages instead of reinstalling them (`make` is tested by
CI itself); PYTHONPATH points every import, subprocesses included, at the clone's code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The real-model tests take minutes on a 2-core CPU; the clone's own runs are bounded below.
pytestmark = [pytest.mark.real_model, pytest.mark.fresh_clone, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    target = tmp_path_factory.mktemp("fresh-clone") / "formwright"
    assert not target.is_relative_to(ROOT)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=300)
    return target


def run_in(clone: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORMWRIGHT_")}
    env |= {"PYTHONPATH": str(clone), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.skipif(
    os.environ.get("CHECKOUT_IS_FRESH_CLONE") == "1",
    reason=".ci/run runs in a fresh clone with a fresh venv: its real-model tests are this",
)
def test_real_model_tests_pass_in_a_fresh_clone(clone: Path):
    result = run_in(
        clone,
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "real_model and not fresh_clone",
        "tests",
        timeout=2400,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
    # The clone's own code ran, not this tree's.
    probe = run_in(clone, "-c", "import service; print(service.__file__)", timeout=60)
    assert probe.stdout.strip().startswith(str(clone)), probe.stdout


def test_generate_benchmark_runs_in_a_fresh_clone(clone: Path):
    result = run_in(clone, "bench/generate.py", "--limit", "1", timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "snips-weather" in result.stdout
    assert "snips-commands" in result.stdout
