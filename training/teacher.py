"""Label unlabeled inputs with a teacher, keeping only labels that validate (and agree).

The teacher is any `generate(input) -> JSON text | parsed value` callable: the base model
few-shot and grammar-constrained (built by the caller), or `openai_teacher` for an
OpenAI-compatible endpoint.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from training.data import Pair
from training.leaves import json_equal
from training.pairs import schema_issues

Generate = Callable[[str], "str | dict[str, Any] | list[Any]"]
TEACHER_REASONS = ("generate_error", "not_json", "schema_invalid", "disagree")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_label(raw: Any) -> Any:
    """A teacher's answer as a JSON value; text may be wrapped in a ``` fence. ValueError if
    it is not exactly one JSON value."""
    if not isinstance(raw, str):
        return raw
    match = _FENCE.match(raw)
    return json.loads(match.group(1) if match else raw)


def label_with_teacher(
    inputs: Sequence[str],
    *,
    generate: Generate,
    schema: Any,
    agree_samples: int = 1,
) -> tuple[list[Pair], Counter[str]]:
    """(accepted pairs with source "teacher", rejected counts by reason).

    Each input is sent `agree_samples` times (1 or 2). A label is kept when every sample is
    JSON, validates against `schema`, and (with 2) both samples are equal as JSON; with a
    sampling teacher that is a cheap confidence filter. Reasons: generate_error (the call
    raised), not_json, schema_invalid, disagree — the first that applies per input.
    """
    if agree_samples not in (1, 2):
        raise ValueError(f"agree_samples must be 1 or 2, got {agree_samples!r}")
    accepted: list[Pair] = []
    rejected: Counter[str] = Counter()
    for text in inputs:
        labels: list[Any] = []
        reason: str | None = None
        for _ in range(agree_samples):
            try:
                raw = generate(text)
            except Exception:  # the teacher's failure rejects this input, not the batch
                reason = "generate_error"
                break
            try:
                label = parse_label(raw)
            except ValueError:
                reason = "not_json"
                break
            if schema_issues(schema, label):
                reason = "schema_invalid"
                break
            labels.append(label)
        if reason is None and any(not json_equal(labels[0], other) for other in labels[1:]):
            reason = "disagree"
        if reason is None:
            accepted.append(Pair(text, labels[0], source="teacher"))
        else:
            rejected[reason] += 1
    return accepted, rejected


def openai_teacher(
    url: str,
    model: str,
    api_key: str | None,
    *,
    schema: dict[str, Any],
    description: str | None = None,
    instructions: str | None = None,
    examples: Sequence[tuple[str, Any]] = (),
    temperature: float = 0.0,
    timeout_s: float = 60.0,
    transport: Any = None,
) -> Callable[[str], str]:
    """A `generate` for `label_with_teacher` backed by an OpenAI-compatible chat endpoint.

    `url` is the API base (`https://host/v1`); each call POSTs `{url}/chat/completions` with
    the same messages serving uses (`prompts.build_messages`) and a `json_schema` response
    format, and returns the message content. Use temperature > 0 with agree_samples=2.
    `transport` is passed to httpx (tests). The returned callable has `.close()`.
    """
    import httpx

    from training.prompts import build_messages

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = httpx.Client(
        base_url=url.rstrip("/") + "/", headers=headers, timeout=timeout_s, transport=transport
    )
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "output"))[:64]

    def generate(text: str) -> str:
        messages = build_messages(
            schema=schema,
            description=description,
            instructions=instructions,
            examples=list(examples),
            input=text,
        )
        body = {
            "model": model,
            "messages": messages,
            "temperature": temperature,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            },
        }
        response = client.post("chat/completions", json=body)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise ValueError("the teacher answered without text content")
        return content

    generate.close = client.close  # type: ignore[attr-defined]
    return generate
