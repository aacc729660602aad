"""One prompt format for training and serving: what an adapter learns is what it is asked.

The base model is shown the JSON Schema (and few-shot examples); an adapter is not: it was
trained for one schema version, so the schema would only add ~300 tokens to every training
example and every request (a quarter of the training steps in the same time, and most of
the prefill when serving). Pure: no model imports; the tokenizer is used through
`apply_chat_template` only.
"""

from __future__ import annotations

import json
from typing import Any

SYSTEM_PREAMBLE = (
    "You turn the user's text into JSON. Answer with exactly one JSON value that validates "
    "against the JSON Schema below, with no other text."
)
ADAPTER_PREAMBLE = "You turn the user's text into JSON. Answer with one JSON value, no other text."


def compact_json(value: Any) -> str:
    """The one JSON spelling used in prompts, targets and constrained output (no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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


def build_messages(
    *,
    schema: dict[str, Any] | None,
    description: str | None,
    instructions: str | None,
    examples: list[tuple[str, Any]],
    input: str,
) -> list[dict[str, str]]:
    """Chat messages: system (schema, description, instructions), few-shot turns, the input."""
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
        messages.append({"role": "assistant", "content": compact_json(example_output)})
    messages.append({"role": "user", "content": input})
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
