import json

from hypothesis import given
from hypothesis import strategies as st

from training.prompts import (
    build_messages,
    compact_json,
    in_schema_order,
    render_prompt,
    render_target,
)

SCHEMA = {"type": "object", "properties": {"city": {"type": ["string", "null"]}}}


def test_messages_without_examples_are_system_then_input():
    messages = build_messages(
        schema=SCHEMA,
        description="Weather slots.",
        instructions="Use null.",
        examples=[],
        input="rain in paris?",
    )
    assert [m["role"] for m in messages] == ["system", "user"]
    system = messages[0]["content"]
    assert compact_json(SCHEMA) in system
    assert "Weather slots." in system
    assert "Use null." in system
    assert messages[-1]["content"] == "rain in paris?"


def test_examples_become_few_shot_turns_with_compact_json():
    messages = build_messages(
        schema=SCHEMA,
        description=None,
        instructions=None,
        examples=[("sun in rome", {"city": "rome"}), ("snow?", {"city": None})],
        input="rain in paris?",
    )
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[2]["content"] == '{"city":"rome"}'
    assert messages[4]["content"] == '{"city":null}'
    assert "Task:" not in messages[0]["content"]
    assert "Instructions:" not in messages[0]["content"]


def test_render_prompt_ends_with_assistant_header(tiny_model_dir):
    from training.modeling import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    prompt = render_prompt(
        tok,
        build_messages(
            schema=SCHEMA,
            description=None,
            instructions=None,
            examples=[],
            input="hi",
        ),
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>user\nhi<|im_end|>" in prompt


def test_render_target_is_compact_json_plus_eos():
    out = {"city": "Zürich", "n": [1, 2]}
    assert render_target(out) == '{"city":"Zürich","n":[1,2]}'
    assert render_target(out, "<|im_end|>") == '{"city":"Zürich","n":[1,2]}<|im_end|>'
    assert json.loads(render_target(out)) == out


# The order of the author's schema (not alphabetical), with a nested list of typed spans.
COMMANDS = {
    "type": "object",
    "properties": {
        "scenario": {"enum": ["lights", "music"]},
        "action": {"type": "string"},
        "entities": {"type": "array", "items": {"$ref": "#/$defs/span"}},
    },
    "$defs": {
        "span": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
        }
    },
}


def test_targets_and_few_shot_answers_follow_the_schema_property_order():
    stored = {
        "action": "on",
        "entities": [{"text": "kitchen", "type": "room"}],
        "scenario": "lights",
    }
    want = '{"scenario":"lights","action":"on","entities":[{"type":"room","text":"kitchen"}]}'
    assert compact_json(in_schema_order(stored, COMMANDS)) == want
    messages = build_messages(
        schema=COMMANDS, description=None, instructions=None, examples=[("x", stored)], input="y"
    )
    assert messages[2]["content"] == want


def test_schema_order_follows_combinators_tuples_and_keeps_undeclared_keys_last():
    schema = {
        "allOf": [{"properties": {"b": {}}}, {"properties": {"a": {"prefixItems": [COMMANDS]}}}],
    }
    value = {"z": 1, "a": [{"action": "x", "scenario": "music"}, {"k": 2, "j": 1}], "b": 0}
    ordered = in_schema_order(value, schema)
    assert list(ordered) == ["b", "a", "z"]
    assert list(ordered["a"][0]) == ["scenario", "action"]
    assert list(ordered["a"][1]) == ["k", "j"]  # no schema for the second item: untouched


def test_schema_order_stops_on_self_referencing_refs():
    schema = {"$ref": "#", "properties": {"b": {"$ref": "#"}, "a": {}}}
    assert list(in_schema_order({"a": 1, "b": {"a": 2, "b": None}}, schema)["b"]) == ["b", "a"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=12,
)


@given(value=json_values, schema=json_values)
def test_schema_order_never_changes_the_value(value, schema):
    assert in_schema_order(value, schema) == value


@given(st.text(min_size=1, max_size=40))
def test_a_one_turn_conversation_renders_as_the_single_input(text):
    # Adapters were trained on the single-input prompt: a conversation of one user turn must
    # not change a byte of it.
    for schema, examples in ((SCHEMA, [("sun in rome", {"city": "rome"})]), (None, [])):
        kwargs = {"schema": schema, "description": "d", "instructions": None, "examples": examples}
        assert build_messages(**kwargs, input=[{"role": "user", "content": text}]) == (
            build_messages(**kwargs, input=text)
        )


def test_a_conversation_follows_the_few_shot_turns_in_order():
    conversation = [
        {"role": "user", "content": "rain in paris?"},
        {"role": "assistant", "content": '{"city":"Paris"}'},
        {"role": "user", "content": "Correct your JSON: city must be lower case."},
    ]
    messages = build_messages(
        schema=SCHEMA,
        description=None,
        instructions=None,
        examples=[("sun in rome", {"city": "rome"})],
        input=conversation,
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant"] + [
        t["role"] for t in conversation
    ]
    assert messages[3:] == conversation
