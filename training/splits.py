"""Hold out evaluation examples from the real (human-labeled) examples only."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TypeVar

from training.data import Pair, normalize_input

P = TypeVar("P", bound=Pair)

# Never hold out more than a quarter of the real examples: the rest must still teach.
DEFAULT_MAX_SHARE = 0.25


def split_rank(pair: Pair, seed: int) -> str:
    """Where a pair sorts for the split: a hash of the seed and its normalized input.

    The rank of a pair does not depend on the other pairs, so adding examples moves only
    the few whose hashes fall among the lowest; pairs with the same normalized input share
    a rank and so always land on the same side (no near-duplicate leaks into eval).
    """
    return hashlib.sha256(f"{seed}\0{normalize_input(pair.input)}".encode()).hexdigest()


def eval_size(
    n: int,
    *,
    eval_fraction: float,
    min_eval: int,
    max_eval: int | None = None,
    max_share: float = DEFAULT_MAX_SHARE,
) -> int:
    """round(n x eval_fraction), raised to `min_eval` as far as `max_share` of n allows, capped
    at `max_eval`, and always leaving at least one training example (n < 2: nothing is held
    out). 400 examples, 0.1, 50, 0.25 -> 50; 50 examples -> 12 (a quarter, not all 50)."""
    if n < 2:
        return 0
    least = min(min_eval, math.floor(n * max_share))
    size = max(least, math.floor(n * eval_fraction + 0.5))
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
    max_share: float = DEFAULT_MAX_SHARE,
    pinned: Sequence[P] = (),
) -> tuple[list[P], list[P]]:
    """(train, eval): the user's `pinned` eval examples, or else the `eval_size` pairs of
    lowest `split_rank`.

    A pinned set is the evaluation as the user chose it: nothing else is held out, and a
    `real` pair with the same normalized input as a pinned one is not trained on (it would
    leak the answer). Both lists keep the input order. Same examples and seed -> same split,
    on any machine. Synthesize from `train` only, so nothing derived from an eval example is
    trained on.
    """
    if not 0 <= eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction!r}")
    if pinned:
        held_inputs = {normalize_input(p.input) for p in pinned}
        return [p for p in real if normalize_input(p.input) not in held_inputs], list(pinned)
    size = eval_size(
        len(real),
        eval_fraction=eval_fraction,
        min_eval=min_eval,
        max_eval=max_eval,
        max_share=max_share,
    )
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
