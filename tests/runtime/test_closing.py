"""Answers closed at their token budget (tiny model, every backend): a constrained answer that
would run out of tokens mid-way ends early instead, valid, with finish_reason "length" — for
any budget at least as long as the ending found from the start."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import GenerateRequest, ModelRuntime
from runtime.closing import START, Closer
from tests.runtime.samples import NESTED

# Free text the random model goes on writing, inside a list of objects.
NOTES = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}},
                "required": ["name", "qty"],
            },
            "minItems": 1,
        },
    },
    "required": ["title", "items"],
}
SCHEMAS = {"notes": NOTES, "nested": NESTED}
BACKENDS = ["llguidance", "xgrammar", "outlines_core"]


@pytest.fixture(scope="module", params=BACKENDS)
def runtime(request, tiny_model_dir: Path) -> ModelRuntime:
    runtime = ModelRuntime(model_path=tiny_model_dir, backends=[request.param])
    runtime.load()
    return runtime


def shortest(runtime: ModelRuntime, schema: dict) -> int:
    """Tokens of the ending found from the start: a budget that can hold an answer (not
    always the least one: the walk does not search for the fewest tokens)."""
    grammar = runtime.grammars.compile(schema, backend=runtime.backends[0])
    closer = Closer(runtime.tokenizer, len(runtime.tokenizer))
    ending = closer.ending(grammar.matcher(), START, 1000)
    assert ending is not None
    return len(ending)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(SCHEMAS)),
    spare=st.integers(0, 60),
    temperature=st.sampled_from([0.0, 1.0]),
    seed=st.integers(0, 1000),
)
def test_a_constrained_answer_is_closed_within_any_budget_that_can_hold_one(
    runtime, name, spare, temperature, seed
):
    schema = SCHEMAS[name]
    budget = shortest(runtime, schema) + spare
    result = runtime.generate(
        GenerateRequest(
            schema=schema,
            input="list what the customer ordered",
            mode="constrained",
            max_tokens=budget,
            temperature=temperature,
            seed=seed,
        )
    )
    assert result.valid, (budget, result.raw)
    jsonschema.validate(json.loads(result.raw), schema)
    assert result.usage.completion_tokens <= budget
    assert result.finish_reason in ("stop", "length")


def test_an_answer_closed_early_says_length(runtime):
    budget = shortest(runtime, NOTES) + 5  # the random model writes a longer title than that
    closed = runtime.generate(
        GenerateRequest(schema=NOTES, input="a note", mode="constrained", max_tokens=budget)
    )
    assert closed.valid
    assert closed.finish_reason == "length"
    assert closed.usage.completion_tokens <= budget
