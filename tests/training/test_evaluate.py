import json
import threading

from tests.training.samples import EXAMPLES, SCHEMA
from training.evaluate import (
    EvalResult,
    constrained_agreement,
    evaluate,
    evaluate_served,
    score,
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


def test_served_redecodes_only_the_rows_whose_free_answer_does_not_validate() -> None:
    gold = [p.output for p in EXAMPLES]
    free = _scored([gold[0], {"city": "Rome", "unit": "rankine"}, None])
    asked: list[str] = []

    def constrained(text: str) -> object:
        asked.append(text)
        return gold[[p.input for p in EXAMPLES].index(text)]

    result = evaluate_served(EXAMPLES, free, constrained=constrained, schema=SCHEMA)
    assert sorted(asked) == sorted([EXAMPLES[1].input, EXAMPLES[2].input])
    assert result.predictions == gold
    assert (result.conformance, result.exact_match, result.field_accuracy) == (1.0, 1.0, 1.0)


def test_constrained_agreement_counts_changed_answers_that_were_valid() -> None:
    gold = [p.output for p in EXAMPLES]
    free = _scored([gold[0], {"city": "Rome", "unit": "rankine"}, None])
    # Row 0's free answer validated and the constrained pass changed it; rows 1-2 were invalid.
    changed = _scored([{"city": "Lyon", "unit": "celsius"}, gold[1], gold[2]])
    assert constrained_agreement(EXAMPLES, free, changed, schema=SCHEMA) == 0.0
    assert constrained_agreement(EXAMPLES, free, _scored(gold), schema=SCHEMA) == 1.0
    # A free answer that strays from a copied field's input text had to change.
    strayed = _scored([{**gold[0], "city": "Pariss"}, gold[1], gold[2]])
    assert constrained_agreement(EXAMPLES, strayed, _scored(gold), schema=SCHEMA) == 2 / 3
    fixed = constrained_agreement(
        EXAMPLES, strayed, _scored(gold), schema=SCHEMA, copied={"/city": 1}
    )
    assert fixed == 1.0


def test_served_redecodes_a_valid_answer_whose_copied_field_is_not_input_text() -> None:
    gold = [p.output for p in EXAMPLES]
    strayed = {**gold[0], "city": "Pariss"}  # valid, but the input says "Paris"
    free = _scored([strayed, gold[1], gold[2]])
    asked: list[str] = []

    def constrained(text: str) -> object:
        asked.append(text)
        return gold[[p.input for p in EXAMPLES].index(text)]

    kept = evaluate_served(EXAMPLES, free, constrained=constrained, schema=SCHEMA)
    assert (asked, kept.predictions[0]) == ([], strayed)  # no copied fields: the rule is validity
    served = evaluate_served(
        EXAMPLES, free, constrained=constrained, schema=SCHEMA, copied={"/city": 1}
    )
    assert asked == [EXAMPLES[0].input]
    assert served.predictions == gold
