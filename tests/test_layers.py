"""The layers of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) pass on the
tree, break when a forbidden import is added, and no module imports itself through others."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "workers", "service", "runtime", "training", "schemas")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> tuple[int, list[str]]:
    """lint-imports over the packages under `root`: its exit code and the broken contracts."""
    done = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    broken = [
        line.removesuffix("BROKEN").strip()
        for line in done.stdout.splitlines()
        if line.endswith("BROKEN")
    ]
    return done.returncode, broken


def test_the_tree_keeps_every_contract():
    assert lint_imports(ROOT) == (0, [])


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / package, copy / package, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


LAYERS = "Layers: cli > workers > service > runtime > training > schemas"
RUNTIME = "The model runtime imports no web, database, metrics or queue library"
LIBRARIES = "schemas/ and training/ import no web, database, metrics or queue library"
CYCLES = "Siblings import one way in cli, workers, runtime, training, schemas"


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("runtime/decode.py", "import prometheus_client", [RUNTIME]),
        ("runtime/continuous.py", "    from sqlmodel import Session", [RUNTIME]),  # even lazily
        # upward, and through service.db to sqlalchemy
        ("runtime/adapters.py", "from service.db import session_scope", [LAYERS, RUNTIME]),
        # the runtime imports training and schemas: what they import, it imports
        ("training/data.py", "import service.models", [LAYERS, RUNTIME, LIBRARIES]),
        ("schemas/canonical.py", "from workers import tasks", [LAYERS, RUNTIME, LIBRARIES]),
        ("schemas/canonical.py", "from sqlalchemy import text", [RUNTIME, LIBRARIES]),
        ("service/db.py", "from workers.app import run_worker", [LAYERS]),
        ("runtime/lora.py", "from runtime.runtime import ModelRuntime", [CYCLES]),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree, module, line, broken):
    path = tree / module
    original = path.read_text()
    if line.startswith(" "):  # inside a function: import-linter sees lazy imports too
        line = "\n\ndef _lazy() -> None:\n" + line + "\n"
    path.write_text(original + "\n" + line + "\n")
    try:
        assert lint_imports(tree) == (1, broken)
    finally:
        path.write_text(original)


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph(*PACKAGES)
    cycles = [
        cycle
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if (cycle := graph.find_shortest_chain(importer=imported, imported=module))
    ]
    assert cycles == []
