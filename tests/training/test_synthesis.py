import json
from pathlib import Path

import pytest

from tests.training.samples import EXAMPLES, SCHEMA
from training.config import SynthesisConfig
from training.data import Pair, normalize_input
from training.pairs import schema_issues
from training.synthesis import occurrences, synthesize

DATASETS = Path(__file__).resolve().parents[2] / "bench" / "data"


def test_exact_pairs_for_a_seed() -> None:
    pairs, report = synthesize(EXAMPLES, schema=SCHEMA, config=SynthesisConfig(target=6, seed=0))
    assert [(p.input, p.output) for p in pairs] == [
        # phase 1: every enum member of `unit` at least once (celsius forced into a source
        # that had fahrenheit), then phase 2 cycles through the examples
        ("how warm is Paris in celsius", {"city": "Paris", "unit": "celsius", "day": None}),
        ("how warm is Paris in fahrenheit", {"city": "Paris", "unit": "fahrenheit", "day": None}),
        (
            "temperature in Rome in kelvin today",
            {"city": "Rome", "unit": "kelvin", "day": "today"},
        ),
        ("forecast in fahrenheit", {"city": None, "unit": "fahrenheit"}),
        ("forecast in kelvin", {"city": None, "unit": "kelvin"}),
        ("how warm is Paris in kelvin", {"city": "Paris", "unit": "kelvin", "day": None}),
    ]
    assert {p.source for p in pairs} == {"synthetic"}
    assert pairs[2].meta == {
        "from": 0,
        "substituted": {"/city": ["Paris", "Rome"], "/unit": ["celsius", "kelvin"]},
    }
    assert report.synthesized == 6
    assert report.attempts == 7  # one rewrite repeated an input and was dropped
    assert report.uncovered == []


def test_coverage_report() -> None:
    _, report = synthesize(EXAMPLES, schema=SCHEMA, config=SynthesisConfig(target=6, seed=0))
    assert report.paths == {
        "/city": {
            "branches_before": {"null": 1, "value": 2},
            "branches_after": {"null": 3, "value": 6},
            "distinct_before": 2,
            "distinct_after": 2,
            "substitutable": True,
        },
        "/day": {
            "branches_before": {"absent": 1, "null": 1, "value": 1},
            "branches_after": {"absent": 3, "null": 4, "value": 2},
            "distinct_before": 1,
            "distinct_after": 1,
            "substitutable": True,
        },
        "/unit": {
            "branches_before": {"value": 3},
            "branches_after": {"value": 9},
            "values_before": {'"celsius"': 2, '"fahrenheit"': 1},
            "values_after": {'"celsius"': 3, '"fahrenheit"': 3, '"kelvin"': 3},
            "enum_missing_before": ['"kelvin"'],
            "enum_missing_after": [],
            "substitutable": True,
        },
    }
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_same_seed_same_pairs_other_seed_other_order() -> None:
    def run(seed: int) -> list[tuple[str, str]]:
        pairs, _ = synthesize(EXAMPLES, schema=SCHEMA, config=SynthesisConfig(target=6, seed=seed))
        return [(p.input, json.dumps(p.output)) for p in pairs]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_uncoverable_enum_members_are_reported() -> None:
    # `unit` is never written in the inputs: it cannot be substituted, so kelvin cannot be
    # made to appear, and the report says so.
    examples = [
        Pair("cold in Paris", {"city": "Paris", "unit": "celsius"}),
        Pair("cold in Rome", {"city": "Rome", "unit": "celsius"}),
    ]
    pairs, report = synthesize(examples, schema=SCHEMA, config=SynthesisConfig(target=5))
    assert [p.input for p in pairs] == []  # "cold in Rome" and "cold in Paris" already exist
    assert report.paths["/unit"]["substitutable"] is False
    assert 'enum:/unit="kelvin"' in report.uncovered
    assert report.paths["/unit"]["enum_missing_after"] == ['"fahrenheit"', '"kelvin"']


def test_label_like_enums_are_not_substituted_and_tag_their_siblings() -> None:
    # A slot name that an input happens to contain ("playlist") is a label, not a mention.
    schema = {
        "type": "object",
        "properties": {
            "slots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"enum": ["playlist", "artist", "city"]},
                        "value": {"type": "string"},
                    },
                },
            }
        },
    }
    examples = [
        Pair(
            "add Adele to my chill playlist",
            {
                "slots": [
                    {"name": "artist", "value": "Adele"},
                    {"name": "playlist", "value": "chill"},
                ]
            },
        ),
        Pair(
            "add Sting to the road trip list",
            {
                "slots": [
                    {"name": "artist", "value": "Sting"},
                    {"name": "playlist", "value": "road trip"},
                ]
            },
        ),
        Pair("weather in Lyon", {"slots": [{"name": "city", "value": "Lyon"}]}),
        Pair("weather in Nice", {"slots": [{"name": "city", "value": "Nice"}]}),
    ]
    pairs, report = synthesize(examples, schema=schema, config=SynthesisConfig(target=10))
    # Every slot of a source is swapped; a city can only become the other city, which
    # repeats an existing input, so no weather pair can be made, and the report says so.
    assert [(p.input, p.output) for p in pairs] == [
        (
            "add Adele to the chill list",
            {
                "slots": [
                    {"name": "artist", "value": "Adele"},
                    {"name": "playlist", "value": "chill"},
                ]
            },
        ),
        (
            "add Sting to my road trip playlist",
            {
                "slots": [
                    {"name": "artist", "value": "Sting"},
                    {"name": "playlist", "value": "road trip"},
                ]
            },
        ),
    ]
    assert report.paths["/slots/*/name"]["substitutable"] is False
    assert report.paths["/slots/*/value"]["substitutable"] is True
    assert report.paths["/slots"]["lengths_after"] == {"1": 2, "2": 4}
    assert report.uncovered == ['enum:/slots/*/name="city"', "length:/slots=1"]


def test_ambiguous_and_partial_word_values_are_left_alone() -> None:
    assert occurrences("where is it here", "here") == [(12, 16)]
    assert occurrences("Rome, Rome", "Rome") == [(0, 4), (6, 10)]
    assert occurrences("2.5 or 12.5", "2.5") == [(0, 3)]
    examples = [
        Pair("from Rome to Rome in celsius", {"city": "Rome", "unit": "celsius"}),
        Pair("where in Paris in fahrenheit", {"city": "Paris", "unit": "fahrenheit"}),
    ]
    pairs, _ = synthesize(examples, schema=SCHEMA, config=SynthesisConfig(target=10))
    # "Rome" occurs twice in the first input: only its unit may change.
    assert sorted((p.input, p.output["city"]) for p in pairs) == [
        ("from Rome to Rome in fahrenheit", "Rome"),
        ("from Rome to Rome in kelvin", "Rome"),
        ("where in Paris in celsius", "Paris"),
        ("where in Paris in kelvin", "Paris"),
    ]


def test_numbers_and_schema_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {"people": {"type": "integer", "minimum": 1, "maximum": 9}},
    }
    examples = [Pair("a table for 4", {"people": 4}), Pair("a table for 2 please", {"people": 2})]
    pairs, _ = synthesize(examples, schema=schema, config=SynthesisConfig(target=8, seed=3))
    assert sorted((p.input, p.output["people"]) for p in pairs) == [
        ("a table for 1", 1),
        ("a table for 1 please", 1),
        ("a table for 2", 2),
        ("a table for 4 please", 4),
        ("a table for 5", 5),
        ("a table for 5 please", 5),
        ("a table for 9", 9),
        ("a table for 9 please", 9),
    ]
    no_schema = SynthesisConfig(target=8, from_schema=False)
    pairs, _ = synthesize(examples, schema=schema, config=no_schema)
    assert sorted(p.input for p in pairs) == ["a table for 2", "a table for 4 please"]


def test_disabled_or_zero_target_makes_nothing() -> None:
    assert synthesize(EXAMPLES, schema=SCHEMA, config=SynthesisConfig(enabled=False))[0] == []
    pairs, report = synthesize(EXAMPLES, schema=SCHEMA, config=SynthesisConfig(target=0))
    assert pairs == []
    assert report.uncovered == []


@pytest.mark.parametrize("name", ["snips-weather", "snips-commands"])
def test_snips_pairs_are_valid_grounded_and_new(name: str) -> None:
    schema = json.loads((DATASETS / name / "schema.json").read_text())
    lines = (DATASETS / name / "train.jsonl").read_text().splitlines()
    examples = [Pair(**json.loads(line)) for line in lines]
    pairs, report = synthesize(examples, schema=schema, config=SynthesisConfig(target=200))
    assert len(pairs) == 200
    assert report.uncovered == []
    inputs = {normalize_input(p.input) for p in examples}
    for pair in pairs:
        assert schema_issues(schema, pair.output) == []
        assert normalize_input(pair.input) not in inputs
        inputs.add(normalize_input(pair.input))
        for _, new in pair.meta["substituted"].values():
            assert len(occurrences(pair.input, new)) == 1
