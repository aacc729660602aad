"""The promotion rule, with exact verdicts."""

from service.jobs.promotion import Promotion, decide, served_accuracy


def evaluation(*, adapter: float | None, base: float | None = None) -> dict:
    found: dict = {"n": 20}
    if adapter is not None:
        found["adapter_constrained"] = {"field_accuracy": adapter}
    if base is not None:
        found["base"] = {"field_accuracy": base}
    return found


def test_the_first_adapter_must_beat_the_base_model():
    assert decide(
        evaluation(adapter=0.9, base=0.6), adapter_id=7, current_id=None, current_evaluation=None
    ) == Promotion(promoted=True, score=0.9, baseline=0.6, against="base")
    assert decide(
        evaluation(adapter=0.5, base=0.6), adapter_id=7, current_id=None, current_evaluation=None
    ) == Promotion(promoted=False, score=0.5, baseline=0.6, against="base")


def test_a_tie_keeps_what_serves_now():
    assert decide(
        evaluation(adapter=0.6, base=0.6), adapter_id=7, current_id=None, current_evaluation=None
    ) == Promotion(promoted=False, score=0.6, baseline=0.6, against="base")
    assert decide(
        evaluation(adapter=0.8, base=0.1),
        adapter_id=7,
        current_id=3,
        current_evaluation=evaluation(adapter=0.8),
    ) == Promotion(promoted=False, score=0.8, baseline=0.8, against="adapter 3")


def test_a_new_adapter_must_beat_the_active_adapter_not_the_base():
    assert decide(
        evaluation(adapter=0.85, base=0.2),
        adapter_id=7,
        current_id=3,
        current_evaluation=evaluation(adapter=0.8, base=0.2),
    ) == Promotion(promoted=True, score=0.85, baseline=0.8, against="adapter 3")
    assert decide(
        evaluation(adapter=0.7, base=0.2),
        adapter_id=7,
        current_id=3,
        current_evaluation=evaluation(adapter=0.8),
    ) == Promotion(promoted=False, score=0.7, baseline=0.8, against="adapter 3")


def test_an_adapter_already_serving_stays_promoted():
    # A promote stage delivered twice finds its adapter active: the verdict does not flip.
    assert decide(
        evaluation(adapter=0.4, base=0.9), adapter_id=7, current_id=7, current_evaluation=None
    ) == Promotion(promoted=True, score=0.4, baseline=0.9, against="base")


def test_missing_scores_count_as_zero():
    assert served_accuracy({}) == 0.0
    assert served_accuracy({"adapter_constrained": None}) == 0.0
    assert decide({}, adapter_id=1, current_id=None, current_evaluation=None) == Promotion(
        promoted=False, score=0.0, baseline=0.0, against="base"
    )
