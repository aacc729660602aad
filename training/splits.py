"""Hold out evaluation examples from the real (human-labeled) examples only."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TypeVar

from training.data import Pair, normalize_input

P = TypeVar("P", bound=Pair)


def split_rank(pair: Pair, seed: int) -> str:
    """Where a pair sorts for the split: a hash of the seed and its normalized input.

    The rank of a pair does not depend on the other pairs, so adding examples moves only
    the few whose hashes fall among the lowest; pairs with the same normalized input share
    a rank and so always land on the same side (no near-duplicate leaks into eval).
    """
    return hashlib.sha256(f"{seed}\0{normalize_input(pair.input)}".encode()).hexdigest()


def eval_size(n: int, *, eval_fraction: float, min_eval: int, max_eval: int | None = None) -> int:
    """round(n x eval_fraction), raised to `min_eval`, capped at `max_eval`, and always
    leaving at least one training example (n < 2: nothing is held out)."""
    if n < 2:
        return 0
    size = max(min_eval, math.floor(n * eval_fraction + 0.5))
    if max_eval is not None:
        size = min(size, max_eval)
    return min(size, n - 1)


def split_examples(
    real: Sequence[P],
    *,
    eval_fraction: float,
    min_eval: int,
    seed: int,
    max_eval: int | None = None,
) -> tuple[list[P], list[P]]:
    """(train, eval): the `eval_size` pairs of lowest `split_rank` are held out.

    Both lists keep the input order. Same examples and seed -> same split, on any machine.
    Synthesize from `train` only, so nothing derived from an eval example is trained on.
    """
    if not 0 <= eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction!r}")
    size = eval_size(len(real), eval_fraction=eval_fraction, min_eval=min_eval, max_eval=max_eval)
    ranks = [split_rank(p, seed) for p in real]
    order = sorted(range(len(real)), key=lambda i: (ranks[i], i))
    held = set(order[:size])
    # A group of equal inputs straddling the cut goes to eval whole.
    if size:
        cut = ranks[order[size - 1]]
        held |= {i for i in order[size:] if ranks[i] == cut}
        if len(held) >= len(real):
            held = set()
    train = [p for i, p in enumerate(real) if i not in held]
    evaluation = [p for i, p in enumerate(real) if i in held]
    return train, evaluation
