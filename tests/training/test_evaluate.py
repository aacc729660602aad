import json
import threading

from tests.training.samples import EXAMPLES, SCHEMA
from training.evaluate import (
    EvalResult,
    Promotion,
    constrained_agreement,
    decide_promotion,
    evaluate,
    score,
    served,
)


def test_evaluate_scores_a_predict_callable() -> None:
    answers = {
        EXAMPLES[0].input: EXAMPLES[0].output,  # right, as a value
        EXAMPLES[1].input: json.dumps(EXAMPLES[1].output),  # right, as JSON text
        EXAMPLES[2].input: '{"city": null, "unit": "rankine"}',  # invalid: unit wrong
    }
    result = evaluate(EXAMPLES, predict=answers.__getitem__, schema=SCHEMA)
    assert (result.n, result.errors) == (3, 0)
    assert result.conformance == 2 / 3
    assert result.exact_match == 2 / 3
    assert result.field_accuracy == 7 / 8  # 3/3 + 3/3 + 1/2 (city right, unit wrong)
    assert result.per_path == {"/city": 1.0, "/day": 1.0, "/unit": 2 / 3}
    assert "predictions" not in result.to_dict()
    assert result.to_dict(with_predictions=True)["predictions"][2] == {
        "city": None,
        "unit": "rankine",
    }


def test_failed_predictions_count_as_missing() -> None:
    def predict(text: str) -> object:
        if "Paris" in text:
            raise RuntimeError("model crashed")
        if "Rome" in text:
            return "not json"
        return None

    result = evaluate(EXAMPLES, predict=predict, schema=SCHEMA)
    assert (result.errors, result.conformance, result.field_accuracy) == (2, 0.0, 0.0)


def test_concurrent_predictions_keep_the_eval_order() -> None:
    started = threading.Barrier(len(EXAMPLES), timeout=5)  # all in flight at once

    def predict(text: str) -> object:
        started.wait()
        return next(p.output for p in EXAMPLES if p.input == text)

    result = evaluate(EXAMPLES, predict=predict, schema=SCHEMA, concurrency=len(EXAMPLES))
    assert result.predictions == [p.output for p in EXAMPLES]
    assert result.exact_match == 1.0


def _scored(preds: list) -> EvalResult:
    return score(EXAMPLES, preds, schema=SCHEMA)


def test_served_takes_the_free_answer_when_it_validates_else_the_constrained_one() -> None:
    gold = [p.output for p in EXAMPLES]
    invalid = {"city": "Rome", "unit": "rankine"}
    free = _scored([gold[0], invalid, None])
    constrained = _scored([{"city": "Lyon", "unit": "celsius"}, gold[1], gold[2]])
    result = served(EXAMPLES, free, constrained, schema=SCHEMA)
    assert result.predictions == gold
    assert (result.conformance, result.exact_match, result.field_accuracy) == (1.0, 1.0, 1.0)
    # Row 0's free answer validated, and the constrained pass changed it: agreement 0 of 1.
    assert constrained_agreement(free, constrained, schema=SCHEMA) == 0.0
    assert constrained_agreement(free, free, schema=SCHEMA) == 1.0


def test_promotion_compares_the_served_figures_on_the_same_set() -> None:
    gold = [p.output for p in EXAMPLES]
    perfect = _scored(gold)
    worse = _scored([gold[0], gold[1], {"city": "Oslo", "unit": "celsius"}])
    assert decide_promotion(perfect, serving=worse, against="adapter 3") == Promotion(
        True, 1.0, worse.field_accuracy, "adapter 3"
    )
    assert not decide_promotion(worse, serving=perfect, against="base").promoted
    # A tie keeps what serves.
    assert not decide_promotion(perfect, serving=_scored(gold), against="adapter 3").promoted
    # Equal field accuracy (6 of 8 leaves), more exact answers: promoted.
    one_bad_row = _scored([{**gold[0], "city": "Oslo", "unit": "kelvin"}, gold[1], gold[2]])
    two_bad_rows = _scored([{**gold[0], "city": "Oslo"}, {**gold[1], "city": "Bern"}, gold[2]])
    assert one_bad_row.field_accuracy == two_bad_rows.field_accuracy == 6 / 8
    assert decide_promotion(one_bad_row, serving=two_bad_rows, against="base").promoted
    assert not decide_promotion(two_bad_rows, serving=one_bad_row, against="base").promoted
