"""jemalloc under the worker: a CPU training step allocates and frees thousands of activation
tensors, and glibc's malloc is slow at it (`_int_malloc`, `_int_free` and consolidation were
~10% of a bf16 step in `perf`). With jemalloc preloaded a snips-commands step took 8% (bf16)
to 16% (fp32) less time (`bench/step.py`). `FORMWRIGHT_MALLOC=system` keeps glibc's; where no
jemalloc is installed (Debian: `libjemalloc2`, which redis-server pulls in) nothing changes.

A library preloads only at exec, so the process runs itself again once, with `LD_PRELOAD`.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

LIBRARY_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
)


def find_jemalloc() -> str | None:
    for folder in LIBRARY_DIRS:
        for name in ("libjemalloc.so.2", "libjemalloc.so"):
            if (Path(folder) / name).is_file():
                return str(Path(folder) / name)
    return None


def jemalloc_env(env: Mapping[str, str], *, malloc: str) -> dict[str, str] | None:
    """`env` with jemalloc added to `LD_PRELOAD`, or None when there is nothing to change:
    `malloc` is not "jemalloc", not Linux, no jemalloc installed, or it is preloaded already
    (so a run that re-ran itself never runs itself again)."""
    preload = env.get("LD_PRELOAD", "")
    if malloc != "jemalloc" or not sys.platform.startswith("linux") or "jemalloc" in preload:
        return None
    library = find_jemalloc()
    if library is None:
        return None
    return {**env, "LD_PRELOAD": f"{library}:{preload}" if preload else library}


def rerun_with_jemalloc(args: list[str], *, malloc: str) -> None:
    """Replace this process by `python *args` with jemalloc preloaded, when `jemalloc_env`
    has a change to make; otherwise return."""
    env = jemalloc_env(os.environ, malloc=malloc)
    if env is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *args], env)
