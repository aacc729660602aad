import json

from training.prompts import build_messages, compact_json, render_prompt, render_target

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
