"""Torch work outside the decode thread leaves no OpenMP workers behind (training/threads.py):
while a process holds more of them than CPUs, libgomp stops spinning and every parallel op in
every thread waits on a futex (the decode steps took 20-30% longer)."""

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from runtime import ModelRuntime
from tests.training.test_finetune import PAIRS
from training.config import TrainingConfig
from training.finetune import finetune
from training.threads import in_own_thread

pytestmark = pytest.mark.skipif(
    torch.get_num_threads() < 2 or not Path("/proc/self/task").is_dir(),
    reason="OpenMP workers exist with two threads or more; counted in Linux's /proc",
)


def threads_left_by(work) -> int:
    """OS threads that `work`, run on a fresh thread, adds to the process while that thread
    lives (an OpenMP team stays with the thread that made it)."""
    added: list[int] = []

    def run() -> None:
        before = set(os.listdir("/proc/self/task"))
        work()
        deadline = time.monotonic() + 2  # threads that have ended take a moment to leave
        while set(os.listdir("/proc/self/task")) - before and time.monotonic() < deadline:
            time.sleep(0.05)
        added.append(len(set(os.listdir("/proc/self/task")) - before))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return added[0]


def parallel_op() -> None:
    torch.ones(1 << 22).mul_(2)  # above torch's grain: runs on an OpenMP team


def test_a_parallel_op_leaves_its_threads_workers_and_in_own_thread_does_not() -> None:
    assert threads_left_by(parallel_op) >= 1  # what the other tests count
    assert threads_left_by(lambda: in_own_thread(parallel_op)) == 0


def test_in_own_thread_returns_what_the_work_returns_and_raises_what_it_raises() -> None:
    assert in_own_thread(lambda x, *, y: x + y, 1, y=2) == 3
    error = ValueError("no")

    def fail() -> None:
        raise error

    with pytest.raises(ValueError, match="^no$") as raised:
        in_own_thread(fail)
    assert raised.value is error


def test_loading_a_model_and_training_leave_no_openmp_workers(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = TrainingConfig(max_steps=2, batch_size=4, checkpoint_every=100)

    def train() -> None:
        finetune(tiny_model_dir, PAIRS, config=config, checkpoint_dir=tmp_path, resume=False)

    # The first load and run start the process's own pools (tokenizers', the grammar
    # library's), which stay whichever thread asks; what a second one leaves is OpenMP's.
    # (4-bit weights: packing them is the tiny model's load's parallel op.)
    ModelRuntime(model_path=tiny_model_dir, weights="int4").load()
    train()
    runtime = ModelRuntime(model_path=tiny_model_dir, weights="int4")
    assert threads_left_by(runtime.load) == 0
    assert runtime.ready
    assert threads_left_by(train) == 0
