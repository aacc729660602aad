"""The OpenAI request parsing, as pure functions: messages to a conversation, schema equality."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.errors import FormwrightError
from service.inference.bodies import ChatMessage
from service.inference.openai_compat import read_messages, same_schema

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "n": {"type": "integer", "maximum": 3}},
    "required": ["title"],
}

texts = st.text(min_size=1, max_size=20).filter(str.strip)


@given(st.lists(st.tuples(st.sampled_from(["user", "assistant"]), texts), max_size=8), texts)
def test_user_and_assistant_turns_keep_their_order(turns, last):
    messages = [ChatMessage(role=r, content=t) for r, t in turns]
    messages += [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content=last),
    ]
    instructions, conversation = read_messages(messages)
    assert instructions == "Be brief."
    assert conversation == [{"role": r, "content": t} for r, t in turns] + [
        {"role": "user", "content": last}
    ]


def test_tool_calls_and_tool_results_become_turns():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"n":1}'}}
    _, conversation = read_messages(
        [
            ChatMessage(role="user", content=[{"type": "text", "text": "one"}]),
            ChatMessage(role="assistant", content="", tool_calls=[call]),
            ChatMessage(role="tool", tool_call_id="c1", content="n: too small"),
        ]
    )
    assert conversation == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": '{"n":1}'},
        {"role": "user", "content": "n: too small"},
    ]


def test_a_conversation_ending_with_the_assistant_is_refused():
    with pytest.raises(FormwrightError) as caught:
        read_messages(
            [ChatMessage(role="user", content="a"), ChatMessage(role="assistant", content="{}")]
        )
    assert caught.value.code == "no_input"


@given(st.text(max_size=30), st.text(max_size=30))
def test_annotations_do_not_make_another_schema(title, description):
    annotated = {
        **SCHEMA,
        "title": title,
        "properties": {
            "title": {"type": "string", "description": description},
            "n": {"type": "integer", "maximum": 3, "title": title},
        },
    }
    assert same_schema(annotated, SCHEMA)


def test_a_changed_keyword_or_property_named_title_is_another_schema():
    assert not same_schema({**SCHEMA, "properties": {"n": SCHEMA["properties"]["n"]}}, SCHEMA)
    tighter = {
        **SCHEMA,
        "properties": {**SCHEMA["properties"], "n": {"type": "integer", "maximum": 2}},
    }
    assert not same_schema(tighter, SCHEMA)
