"""The promotion rule, with exact verdicts: served figures, one eval set, one run."""

from service.jobs.promotion import Promotion, decide, job_metrics


def figures(field: float, exact: float = 0.0) -> dict:
    return {"field_accuracy": field, "exact_match": exact, "conformance": 1.0, "per_path": {}}


def evaluation(*, adapter: float, base: float = 0.0, active: tuple[int, float] | None = None):
    found: dict = {"n": 50, "base": figures(base), "adapter_served": figures(adapter)}
    found["adapter_unconstrained"] = figures(adapter)
    if active is not None:
        found["active_adapter"] = {**figures(active[1]), "id": active[0]}
    return found


def test_the_first_adapter_must_beat_the_base_model():
    assert decide(evaluation(adapter=0.9, base=0.6), adapter_id=7, current_id=None) == Promotion(
        promoted=True, score=0.9, baseline=0.6, against="base"
    )
    assert not decide(evaluation(adapter=0.5, base=0.6), adapter_id=7, current_id=None).promoted


def test_a_new_adapter_must_beat_the_active_adapter_scored_on_the_same_set():
    found = evaluation(adapter=0.85, base=0.2, active=(3, 0.8))
    assert decide(found, adapter_id=7, current_id=3) == Promotion(True, 0.85, 0.8, "adapter 3")
    found = evaluation(adapter=0.7, base=0.2, active=(3, 0.8))
    assert decide(found, adapter_id=7, current_id=3) == Promotion(False, 0.7, 0.8, "adapter 3")
    # Promoted by hand while the job ran: not scored on this set, so not beaten.
    found = evaluation(adapter=0.99, active=(3, 0.1))
    assert decide(found, adapter_id=7, current_id=5) == Promotion(
        False, 0.99, 0.0, "adapter 5 (not evaluated)"
    )


def test_a_tie_keeps_what_serves_unless_more_answers_are_exact():
    tie = evaluation(adapter=0.8, active=(3, 0.8))
    assert not decide(tie, adapter_id=7, current_id=3).promoted
    tie["adapter_served"]["exact_match"] = 0.5
    assert decide(tie, adapter_id=7, current_id=3).promoted


def test_an_adapter_already_serving_stays_promoted():
    # A promote stage delivered twice finds its adapter active: the verdict does not flip.
    assert decide(evaluation(adapter=0.4, base=0.9), adapter_id=7, current_id=7) == Promotion(
        promoted=True, score=0.4, baseline=0.9, against="base"
    )


def test_missing_scores_count_as_zero():
    assert decide({}, adapter_id=1, current_id=None) == Promotion(False, 0.0, 0.0, "base")


def test_job_metrics_show_both_figures_and_the_per_path_table():
    found = evaluation(adapter=0.9, base=0.5, active=(3, 0.8))
    found["adapter_served"]["per_path"] = {"/city": 0.9}
    found["adapter_served"]["predictions"] = ["not in the metrics"]
    found["eval_set"] = "pinned"
    metrics = job_metrics(found, decide(found, adapter_id=7, current_id=3))
    assert metrics["eval_set"] == "pinned"
    assert metrics["eval_examples"] == 50
    assert metrics["adapter_served"]["per_path"] == {"/city": 0.9}
    assert "predictions" not in metrics["adapter_served"]
    assert metrics["active_adapter"]["field_accuracy"] == 0.8
    assert (metrics["promoted"], metrics["score"], metrics["against"]) == (True, 0.9, "adapter 3")


def test_a_stale_active_adapter_does_not_serve_so_the_base_model_is_what_to_beat():
    found = {**evaluation(adapter=0.6, base=0.5), "stale_adapter": {"id": 3}}
    assert decide(found, adapter_id=7, current_id=3) == Promotion(
        True, 0.6, 0.5, "base (adapter 3 stale)"
    )
    found = {**evaluation(adapter=0.4, base=0.5), "stale_adapter": {"id": 3}}
    assert not decide(found, adapter_id=7, current_id=3).promoted
