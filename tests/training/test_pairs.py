from collections import Counter

from tests.training.samples import EXAMPLES, SCHEMA
from training.data import Pair, dataset_hash, normalize_input
from training.pairs import PairLimits, by_reason, grounded_patterns, is_grounded, validate_pairs

LIMITS = PairLimits(
    max_input_chars=40,
    max_output_chars=80,
    max_tokens=6,
    count_tokens=lambda pair: len(pair.input.split()),
    grounding_min_support=2,
)

CANDIDATES = [
    Pair("weather in Oslo in kelvin", {"city": "Oslo", "unit": "kelvin"}),
    Pair("  ?  ", {"city": None, "unit": "kelvin"}),
    Pair("x" * 41, {"city": None, "unit": "kelvin"}),
    Pair("in kelvin", {"city": "O" * 60, "unit": "kelvin"}),
    Pair("Oslo in rankine", {"city": "Oslo", "unit": "rankine"}),
    Pair("weather in Oslo in kelvin now", {"city": "Bergen", "unit": "kelvin"}),
    Pair("Forecast in  CELSIUS?", {"city": None, "unit": "celsius"}),
    Pair("weather in oslo in kelvin!", {"city": "oslo", "unit": "kelvin"}),
    Pair("Oslo in kelvin", {"city": "OSLO", "unit": "kelvin", "day": "tomorrow"}),
    Pair("what will it be in Oslo in kelvin", {"city": "Oslo", "unit": "kelvin"}),
]


def test_each_pair_gets_its_first_failing_reason() -> None:
    report = validate_pairs(CANDIDATES, schema=SCHEMA, real_examples=EXAMPLES, limits=LIMITS)
    assert report.accepted == [CANDIDATES[0], CANDIDATES[8]]
    assert report.reasons == {
        1: "empty_input",
        2: "input_too_long",
        3: "output_too_long",
        4: "schema_invalid",
        5: "ungrounded",
        6: "duplicate",  # of a real example
        7: "duplicate",  # of candidate 0, accepted before it
        9: "too_many_tokens",
    }
    assert report.rejected == Counter(
        empty_input=1,
        input_too_long=1,
        output_too_long=1,
        schema_invalid=1,
        ungrounded=1,
        duplicate=2,
        too_many_tokens=1,
    )
    assert report.details[4].startswith("/unit: 'rankine' is not one of")
    # /day has one real value: too little evidence to enforce grounding on it
    assert report.grounded_patterns == ["/city", "/unit"]
    assert by_reason(report)["duplicate"] == [6, 7]
    assert report.to_dict()["accepted"] == 2


def test_grounding_applies_only_where_the_real_examples_show_it() -> None:
    real = [
        Pair("in Paris", {"city": "Paris", "unit": "celsius"}),
        Pair("in Rome", {"city": "Rome", "unit": "celsius"}),
        Pair("the capital", {"city": "London", "unit": "celsius"}),  # not copied from input
    ]
    assert grounded_patterns(real, threshold=0.9, min_support=3) == []
    assert grounded_patterns(real, threshold=0.6, min_support=3) == ["/city"]
    candidate = [Pair("the big apple", {"city": "New York", "unit": "celsius"})]
    assert validate_pairs(candidate, schema=SCHEMA, real_examples=real).accepted == candidate
    strict = PairLimits(grounding_threshold=0.6)
    report = validate_pairs(candidate, schema=SCHEMA, real_examples=real, limits=strict)
    assert report.rejected == Counter(ungrounded=1)


def test_grounding_ignores_case_and_spacing() -> None:
    assert is_grounded("New  York", "weather in new york")
    assert is_grounded("Paris", "PARIS tomorrow")
    assert not is_grounded("Lyon", "weather in Paris")
    assert not is_grounded("", "anything")


def test_normalized_inputs_and_dataset_hash() -> None:
    assert normalize_input("  What's the   Weather?! ") == "what's the weather"
    assert normalize_input("ＡＢＣ") == "abc"  # NFKC folds full-width letters
    a = dataset_hash([EXAMPLES[0], EXAMPLES[1]])
    assert a == dataset_hash([EXAMPLES[1], EXAMPLES[0]])
    assert a != dataset_hash([EXAMPLES[0]])
    assert a.startswith("sha256:")
