"""The real SmolLM2-135M base model through the engine (slow: run in CI, `-m real_model`)."""

import json
from pathlib import Path

import pytest

from runtime import GenerateRequest

pytestmark = pytest.mark.real_model

DATASETS = Path(__file__).resolve().parents[2] / "bench" / "data"


def _dataset(name):
    schema = json.loads((DATASETS / name / "schema.json").read_text())
    rows = [json.loads(line) for line in (DATASETS / name / "train.jsonl").open()]
    return schema, rows


def test_weather_answer_is_valid(real_runtime):
    schema, rows = _dataset("snips-weather")
    result = real_runtime.generate(
        GenerateRequest(
            schema=schema,
            description=schema["description"],
            examples=[(r["input"], r["output"]) for r in rows[:2]],
            input="will it be freezing in berlin germany tomorrow evening",
            max_tokens=200,
        )
    )
    assert result.valid, (result.raw, result.errors)
    assert set(result.output) == set(schema["required"])
    assert result.finish_reason == "stop"


@pytest.mark.parametrize("backend", ["llguidance", "xgrammar", "outlines_core"])
def test_nested_object_with_enums_and_nullable_fields(real_runtime, backend):
    from runtime.decode import generate
    from training.prompts import build_messages, render_prompt

    schema = {
        "type": "object",
        "properties": {
            "intent": {"enum": ["book_table", "cancel", "ask_hours"]},
            "party": {
                "type": "object",
                "properties": {
                    "size": {"type": ["integer", "null"], "minimum": 1, "maximum": 20},
                    "name": {"type": ["string", "null"], "maxLength": 40},
                },
                "required": ["size", "name"],
                "additionalProperties": False,
            },
            "when": {"type": ["string", "null"], "maxLength": 40},
            "dishes": {
                "type": "array",
                "items": {"type": "string", "maxLength": 30},
                "maxItems": 3,
            },
        },
        "required": ["intent", "party", "when", "dishes"],
        "additionalProperties": False,
    }
    grammar = real_runtime.grammars.compile(schema, backend=backend)
    prompt = render_prompt(
        real_runtime.tokenizer,
        build_messages(
            schema=schema,
            description="A restaurant request.",
            instructions=None,
            examples=[],
            input="Table for 4 under the name Rossi tonight at 8, we want the lasagna.",
        ),
    )
    out = generate(
        real_runtime.model, real_runtime.tokenizer, prompt, grammar=grammar, max_tokens=160
    )
    from runtime import validate_text

    instance, errors = validate_text(schema, out.text, finish_reason=out.finish_reason)
    assert errors == [], out.text
    assert instance["intent"] in {"book_table", "cancel", "ask_hours"}
