"""`if`/`then`/`else` that picks a branch by one property's value is enforced by llguidance:
the form it gets accepts exactly the objects the schema does, and answers follow the branch."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from runtime.grammar.backend_llguidance import strict_objects, unfold_conditions
from runtime.grammar.compiler import GrammarCompiler

KINDS = ["a", "b", "c"]
CONDITIONS = [
    {"properties": {"kind": {"const": "a"}}},
    {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
    {"properties": {"kind": {"enum": ["a", "b"]}}},
    {"anyOf": [{"properties": {"kind": {"const": "b"}}}, {"properties": {"kind": {"const": "c"}}}]},
    {"not": {"properties": {"kind": {"const": "c"}}}},
    {"required": ["kind"]},
]
THEN = {"required": ["x"], "properties": {"y": False}}
ELSE = {"required": ["y"], "properties": {"x": False}}


def schema_with(
    condition: dict, *, then: bool = True, otherwise: bool = True, member: bool = False
) -> dict:
    """`member`: the condition in an allOf member, as SchemaStore files often write it."""
    schema = {
        "type": "object",
        "properties": {
            "kind": {"enum": KINDS},
            "x": {"type": "integer"},
            "y": {"type": "string", "maxLength": 4},
        },
        "additionalProperties": False,
    }
    branches = {"if": condition}
    if then:
        branches["then"] = THEN
    if otherwise:
        branches["else"] = ELSE
    return {**schema, "allOf": [branches]} if member else {**schema, **branches}


objects = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from([*KINDS, "d", 1]),
        "x": st.integers(-2, 2),
        "y": st.sampled_from(["", "ab"]),
        "z": st.just(0),
    },
)


@given(
    condition=st.sampled_from(CONDITIONS),
    then=st.booleans(),
    otherwise=st.booleans(),
    member=st.booleans(),
    instance=objects,
)
def test_the_enforced_form_accepts_exactly_what_the_schema_accepts(
    condition, then, otherwise, member, instance
):
    schema = schema_with(condition, then=then, otherwise=otherwise, member=member)
    enforced = strict_objects(unfold_conditions(schema))
    unfolded = '"if"' not in json.dumps(enforced)
    assert unfolded == (then or otherwise)  # into branches llguidance enforces
    assert Draft202012Validator(enforced).is_valid(instance) == Draft202012Validator(
        schema
    ).is_valid(instance)


def test_a_condition_on_anything_else_is_left_to_validation():
    schema = schema_with({"properties": {"x": {"minimum": 1}}})  # x lists no values
    assert "if" in unfold_conditions(schema)
    two = schema_with({"properties": {"kind": {"const": "a"}, "y": {"const": ""}}})
    assert "if" in unfold_conditions(two)


def test_answers_follow_the_branch_their_value_picks(tiny_runtime):
    from runtime.decode import generate

    model, tok = tiny_runtime.model, tiny_runtime.tokenizer
    for condition, member in zip(CONDITIONS, [False, True] * 3, strict=True):
        schema = {**schema_with(condition, member=member), "required": ["kind"]}
        grammar = GrammarCompiler(tok, backends=["llguidance"]).get(schema)
        for seed in range(4):
            out = generate(
                model, tok, "hi", grammar=grammar, max_tokens=60, temperature=1.0, seed=seed
            )
            assert out.finish_reason == "stop", out.text
            Draft202012Validator(schema).validate(json.loads(out.text))
