"""One prompt format for training and serving: what an adapter learns is what it is asked.

The base model is shown the JSON Schema (and few-shot examples); an adapter is not: it was
trained for one schema version, so the schema would only add ~300 tokens to every training
example and every request (a quarter of the training steps in the same time, and most of
the prefill when serving). Pure: no model imports; the tokenizer is used through
`apply_chat_template` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

SYSTEM_PREAMBLE = (
    "You turn the user's text into JSON. Answer with exactly one JSON value that validates "
    "against the JSON Schema below, with no other text."
)
ADAPTER_PREAMBLE = "You turn the user's text into JSON. Answer with one JSON value, no other text."
# Labeled examples shown to the base model when no adapter answers (serving, teacher labels and
# the base-model evaluation alike).
FEW_SHOT = 3


def compact_json(value: Any) -> str:
    r"""The one JSON spelling used in prompts, targets and constrained output (no spaces).

    It is the spelling every grammar backend accepts, so an adapter is never trained on text
    constrained decoding would forbid (tests/training/test_target_format.py feeds targets
    through each backend): an integral float is written as an integer (`1.0` -> `1`: no
    backend's "integer" grammar has `1.0`, and `1` is a valid "number"), and DEL as `\u007f`
    (llguidance refuses it raw). Non-ASCII stays raw, as the model writes it; control
    characters are escaped as JSON requires. outlines_core, the last fallback, accepts no
    `\u` escape at all: a control character other than \b \f \n \r \t cannot be written
    under it.
    """
    text = json.dumps(_integral_floats_as_ints(value), ensure_ascii=False, separators=(",", ":"))
    # Outside strings compact JSON is printable ASCII, so DEL can only be inside a string.
    return text.replace("\x7f", "\\u007f")


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def in_schema_order(value: Any, schema: Any) -> Any:
    """`value` with each object's keys in the order its schema declares them.

    A model that learned "scenario, action, entities" must be trained, prompted and constrained
    in that order: the grammar follows the schema's `properties`, so a target written in any
    other order (an example's own, or a database's) would teach the adapter a sequence the
    grammar then forbids. Keys the schema does not declare follow, in their own order. Local
    `$ref`s and `allOf`/`anyOf`/`oneOf` branches are followed; the recursion is bounded by the
    value's depth.
    """
    return _ordered(value, schema, schema)


def _subschemas(schema: Any, root: Any) -> list[dict[str, Any]]:
    """`schema` and the schemas it defers to (local refs, combinators), each once."""
    out: list[dict[str, Any]] = []
    todo, seen = [schema], set()
    while todo:
        node = todo.pop(0)
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            todo.append(_resolve_pointer(root, ref[1:]))
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                todo.extend(node[key])
    return out


def _resolve_pointer(root: Any, pointer: str) -> Any:
    node = root
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdecimal() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _ordered(value: Any, schema: Any, root: Any) -> Any:
    nodes = _subschemas(schema, root)
    if isinstance(value, dict):
        declared: dict[str, Any] = {}
        for node in nodes:
            props = node.get("properties")
            if isinstance(props, dict):
                for key, sub in props.items():
                    declared.setdefault(key, sub)
        keys = [k for k in declared if k in value] + [k for k in value if k not in declared]
        return {k: _ordered(value[k], declared.get(k), root) for k in keys}
    if isinstance(value, list):
        prefix: list[Any] = []
        items: Any = None
        for node in nodes:
            if isinstance(node.get("prefixItems"), list) and not prefix:
                prefix = node["prefixItems"]
            if isinstance(node.get("items"), list) and not prefix:
                prefix = node["items"]  # draft-04..07 tuple form
            elif isinstance(node.get("items"), dict | bool) and items is None:
                items = node["items"]
        return [
            _ordered(v, prefix[i] if i < len(prefix) else items, root) for i, v in enumerate(value)
        ]
    return value


def build_system_message(
    *, schema: dict[str, Any] | None, description: str | None, instructions: str | None
) -> str:
    """The system message; `schema=None` is an adapter's prompt (see the module doc)."""
    if schema is None:
        parts = [ADAPTER_PREAMBLE]
    else:
        parts = [SYSTEM_PREAMBLE, f"JSON Schema: {compact_json(schema)}"]
    if description and description.strip():
        parts.append(f"Task: {description.strip()}")
    if instructions and instructions.strip():
        parts.append(f"Instructions: {instructions.strip()}")
    return "\n".join(parts)


Conversation = Sequence[Mapping[str, str]]


def build_messages(
    *,
    schema: dict[str, Any] | None,
    description: str | None,
    instructions: str | None,
    examples: list[tuple[str, Any]],
    input: str | Conversation,
) -> list[dict[str, str]]:
    """Chat messages: system (schema, description, instructions), few-shot turns, the input.

    `input` is one text (a user turn: what adapters are trained on) or a conversation of
    `{"role": "user" | "assistant", "content": ...}` turns, which takes that user turn's place
    after the few-shot turns, so a client's follow-up ("correct your JSON") keeps the original
    input and the answer it corrects.
    """
    messages = [
        {
            "role": "system",
            "content": build_system_message(
                schema=schema, description=description, instructions=instructions
            ),
        }
    ]
    for example_input, example_output in examples:
        messages.append({"role": "user", "content": example_input})
        shown = example_output if schema is None else in_schema_order(example_output, schema)
        messages.append({"role": "assistant", "content": compact_json(shown)})
    if isinstance(input, str):
        messages.append({"role": "user", "content": input})
    else:
        messages += [{"role": turn["role"], "content": turn["content"]} for turn in input]
    return messages


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The prompt text up to and including the assistant header the model continues from."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def render_target(output: Any, eos_token: str | None = None) -> str:
    """What the model must write after `render_prompt`: compact JSON, then `eos_token`.

    Training passes `tokenizer.eos_token` (SmolLM2: `<|im_end|>`, which ends an assistant turn
    in its chat template) so the adapter learns to stop; serving stops on that token and
    decodes without special tokens, which gives back exactly `compact_json(output)`.
    """
    text = compact_json(output)
    return text + eos_token if eos_token else text
