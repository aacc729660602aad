import pytest

from tests.training.samples import SCHEMA
from training.metrics import conformance, exact_match, field_accuracy

GOLDS = [
    {"city": "Paris", "unit": "celsius", "day": None},
    {"slots": [{"name": "a", "value": "x"}], "n": 1},
    {"city": "Rome", "unit": "celsius", "day": "today"},
    {"slots": []},
]
PREDS = [
    {"city": "Paris", "unit": "kelvin", "day": None},  # 2/3: null == null counts as right
    {"slots": [{"name": "a", "value": "x"}, {"name": "b", "value": "y"}], "n": 1.0},  # 3/5
    None,  # 0/3: a missing prediction is wrong on every gold leaf
    {"slots": []},  # 1/1: an empty array is a leaf
]


def test_field_accuracy_hand_computed() -> None:
    assert field_accuracy(GOLDS, PREDS) == {
        "overall": 6 / 12,
        "per_path": {
            "/city": 1 / 2,
            "/day": 1 / 2,
            "/n": 1.0,  # 1 == 1.0
            "/slots": 1.0,
            "/slots/*/name": 1 / 2,  # the extra slot's name is wrong
            "/slots/*/value": 1 / 2,
            "/unit": 0.0,
        },
    }


@pytest.mark.parametrize(
    ("gold", "pred", "overall"),
    [
        ({"slots": []}, {"slots": [{"name": "a", "value": "x"}]}, 0 / 2),  # 2 extra leaves
        ({"a": {"b": 1}}, {"a": {}}, 0 / 1),  # one missing leaf, {} not counted again
        ({"f": True}, {"f": 1}, 0.0),  # booleans are not numbers
        ({"a": 1}, {"a": 1, "extra": None}, 1 / 2),  # an invented key is a wrong leaf
        ({"a": [1, 2]}, {"a": [2, 1]}, 0.0),  # positions matter
        ({"a": "x"}, "x", 0 / 2),
    ],
)
def test_field_accuracy_edges(gold: object, pred: object, overall: float) -> None:
    assert field_accuracy([gold], [pred])["overall"] == overall


def test_exact_match_and_conformance() -> None:
    assert exact_match(GOLDS, PREDS) == 1 / 4
    assert exact_match([{"a": 1, "b": [1.0]}], [{"b": [1], "a": 1}]) == 1.0
    preds = [{"city": None, "unit": "kelvin"}, {"city": None, "unit": "rankine"}, None]
    assert conformance(preds, schema=SCHEMA) == 1 / 3


def test_empty_and_mismatched() -> None:
    assert field_accuracy([], []) == {"overall": 0.0, "per_path": {}}
    assert exact_match([], []) == 0.0
    assert conformance([], schema=SCHEMA) == 0.0
    with pytest.raises(ValueError, match="2 gold outputs but 1 predictions"):
        exact_match([1, 2], [1])
