import pytest

from training.data import Pair
from training.splits import eval_size, split_examples


def pairs(n: int) -> list[Pair]:
    return [Pair(f"example number {i}", {"i": i}) for i in range(n)]


@pytest.mark.parametrize(
    ("n", "fraction", "minimum", "maximum", "size"),
    [
        (0, 0.1, 10, None, 0),
        (1, 0.1, 10, None, 0),
        (5, 0.1, 10, None, 4),  # at least one example stays for training
        (100, 0.1, 10, None, 10),
        (400, 0.1, 10, 40, 40),
        (1000, 0.1, 10, 40, 40),
        (25, 0.1, 0, None, 3),  # 2.5 rounds half up
        (20, 0.0, 0, None, 0),
    ],
)
def test_eval_size(n: int, fraction: float, minimum: int, maximum: int | None, size: int) -> None:
    assert (
        eval_size(n, eval_fraction=fraction, min_eval=minimum, max_eval=maximum, max_share=1.0)
        == size
    )


def test_at_most_a_quarter_is_held_out_by_default() -> None:
    assert eval_size(50, eval_fraction=0.1, min_eval=50, max_eval=100) == 12
    assert eval_size(5, eval_fraction=0.1, min_eval=10) == 1


def test_split_is_fixed_for_a_seed_and_keeps_input_order() -> None:
    train, held = split_examples(pairs(20), eval_fraction=0.2, min_eval=2, seed=0)
    # sha256 ranks: the same on every machine and Python version
    assert [p.output["i"] for p in held] == [6, 13, 18, 19]
    assert [p.output["i"] for p in train] == [*range(6), *range(7, 13), *range(14, 18)]
    _, other = split_examples(pairs(20), eval_fraction=0.2, min_eval=2, seed=1)
    assert other != held


def test_split_does_not_depend_on_order_and_barely_moves_when_examples_are_added() -> None:
    base = pairs(200)
    _, held = split_examples(base, eval_fraction=0.1, min_eval=0, seed=7)
    _, reversed_held = split_examples(base[::-1], eval_fraction=0.1, min_eval=0, seed=7)
    assert {p.input for p in reversed_held} == {p.input for p in held}

    _, grown = split_examples(pairs(210), eval_fraction=0.1, min_eval=0, seed=7)
    before, after = {p.input for p in held}, {p.input for p in grown}
    old = {p.input for p in base}
    joined = (after & old) - before  # old training examples now held out
    left = before - after  # old eval examples now trained on
    assert (len(before), len(after)) == (20, 21)
    # A new example can push one old eval example out; the one extra eval place can pull
    # in at most one old training example. Nothing else moves.
    assert len(joined) <= 1
    assert len(left) <= len(after - old)
    assert (len(joined), len(left), len(after - old)) == (0, 0, 1)


def test_equal_inputs_stay_on_one_side() -> None:
    # "Example number 6 " normalizes like "example number 6": same rank, same side.
    examples = [*pairs(30), Pair("Example number 6 ", {"i": "twin"})]
    train, held = split_examples(examples, eval_fraction=0.1, min_eval=0, seed=0)
    assert [p.output["i"] for p in held] == [6, 18, "twin"]
    assert len(train) == 28


def test_split_refuses_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match="eval_fraction"):
        split_examples(pairs(3), eval_fraction=1.5, min_eval=0, seed=0)


@pytest.mark.parametrize(
    ("n", "size"),
    # The defaults: 10%, at least 50 as far as a quarter of the examples allows, at most 100.
    [(8, 2), (50, 12), (100, 25), (200, 50), (400, 50), (700, 70), (5000, 100)],
)
def test_default_eval_size_is_large_enough_when_the_data_allows(n: int, size: int) -> None:
    from training.config import TrainingConfig

    c = TrainingConfig()
    assert (
        eval_size(
            n,
            eval_fraction=c.eval_fraction,
            min_eval=c.eval_min,
            max_eval=c.eval_max,
            max_share=c.eval_max_share,
        )
        == size
    )


def test_a_pinned_eval_set_is_the_evaluation_and_is_never_trained_on() -> None:
    real = pairs(40)
    pinned = [Pair("Example number 3.", {"i": "pinned"}), Pair("a new one", {"i": "new"})]
    train, held = split_examples(real, eval_fraction=0.5, min_eval=20, seed=0, pinned=pinned)
    assert held == pinned  # nothing else held out, whatever the fraction
    # "example number 3" normalizes like the pinned "Example number 3.": not trained on.
    assert [p.output["i"] for p in train] == [i for i in range(40) if i != 3]
