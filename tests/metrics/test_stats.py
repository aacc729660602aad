"""Pure metric functions: percentiles and the evaluation shapes the training pipeline writes."""

from service.metrics.stats import compare_evaluation, percentile


def test_percentile_interpolates_and_is_none_without_data():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_evaluation_as_training_writes_it_flat():
    flat = {
        "n": 20,
        "conformance": 1.0,
        "exact_match": 0.5,
        "field_accuracy": 0.75,
        "per_path": {"/city": 0.9, "/unit": 0.6},
    }
    compared = compare_evaluation(
        {
            "base": {**flat, "field_accuracy": 0.5, "per_path": {"/city": 0.7}},
            "adapter_constrained": flat,
        }
    )
    assert compared["base"]["field_accuracy"] == 0.5
    assert compared["adapter"] is None
    assert compared["adapter_constrained"]["n"] == 20
    assert compared["fields"] == [
        {"path": "/city", "base": 0.7, "adapter": None, "adapter_constrained": 0.9},
        {"path": "/unit", "base": None, "adapter": None, "adapter_constrained": 0.6},
    ]


def test_missing_or_odd_evaluations_do_not_break():
    assert compare_evaluation(None)["fields"] == []
    assert compare_evaluation({"base": "oops"})["base"] is None
    nested = compare_evaluation({"adapter": {"field_accuracy": {"overall": 0.8}}})
    assert nested["adapter"]["field_accuracy"] == 0.8
