import os
import subprocess
import sys

import pytest

from cli.malloc import find_jemalloc, jemalloc_env

# Reports whether jemalloc is mapped into the process that runs it, after rerun_with_jemalloc.
PROBE = """
import sys
from cli.malloc import rerun_with_jemalloc
rerun_with_jemalloc(["-c", sys.argv[1], sys.argv[1], sys.argv[2]], malloc=sys.argv[2])
print("jemalloc" in open("/proc/self/maps").read())
"""

needs_jemalloc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or find_jemalloc() is None,
    reason="no jemalloc installed (Debian: libjemalloc2)",
)


@needs_jemalloc
@pytest.mark.parametrize(("malloc", "loaded"), [("jemalloc", "True"), ("system", "False")])
def test_the_worker_process_runs_on_jemalloc_unless_told_not_to(malloc: str, loaded: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, PROBE, malloc],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == loaded


@needs_jemalloc
def test_jemalloc_env_adds_the_library_once_and_keeps_other_preloads() -> None:
    library = find_jemalloc()
    assert jemalloc_env({}, malloc="jemalloc") == {"LD_PRELOAD": library}
    assert jemalloc_env({"LD_PRELOAD": "/x/libfoo.so", "A": "1"}, malloc="jemalloc") == {
        "LD_PRELOAD": f"{library}:/x/libfoo.so",
        "A": "1",
    }
    # already preloaded (the re-run itself), or told to keep glibc's: nothing to change
    assert jemalloc_env({"LD_PRELOAD": library}, malloc="jemalloc") is None
    assert jemalloc_env({}, malloc="system") is None
