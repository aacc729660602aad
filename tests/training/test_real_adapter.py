"""A real adapter on a list-of-spans schema whose properties are not in alphabetical order:
constrained decoding gives the answer the adapter gives alone (issue 14's cause: targets in
another order than the grammar's made the constrained fallback cut accuracy by a third).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from training.config import TrainingConfig
from training.data import Pair
from training.finetune import build_manifest, finetune, save_adapter
from training.modeling import model_fingerprint

from .test_target_format import SPANS

# Written with alphabetical keys, as a JSONL export or a sorted-keys database gives them back.
PAIRS = [
    Pair(text, {"action": action, "entities": entities, "scenario": scenario})
    for text, scenario, action, entities in [
        ("turn on the kitchen lights", "iot", "on", [("place_name", "kitchen")]),
        ("wake me at seven", "alarm", "set", [("time", "seven")]),
        (
            "switch off the fan in the hall",
            "iot",
            "off",
            [("device", "fan"), ("place_name", "hall")],
        ),
        ("cancel the alarm for noon", "alarm", "remove", [("time", "noon")]),
        ("dim the bedroom lamp", "iot", "dim", [("place_name", "bedroom"), ("device", "lamp")]),
        ("set an alarm for six tomorrow", "alarm", "set", [("time", "six tomorrow")]),
        ("start the coffee machine", "iot", "on", [("device", "coffee machine")]),
        ("what alarms do i have", "alarm", "query", []),
    ]
    for entities in [[{"text": t, "type": k} for k, t in entities]]
]


@pytest.mark.real_model
@pytest.mark.timeout(1800)  # ~2 min on a quiet 2-core machine; much longer when it is shared
def test_constrained_answers_equal_the_adapters_free_answers(
    real_model_dir: Path, real_runtime: Any, tmp_path: Path
) -> None:
    from runtime import GenerateRequest

    config = TrainingConfig(max_steps=24, epochs=100, batch_size=4, checkpoint_every=1000)
    result = finetune(
        real_model_dir, PAIRS, config=config, checkpoint_dir=tmp_path / "ckpt", schema=SPANS
    )
    adapter = save_adapter(
        result.model,
        tmp_path / "adapter",
        build_manifest(
            base_model_fingerprint=model_fingerprint(real_model_dir),
            schema_id=1,
            schema_version=1,
            dataset_hash="sha256:test",
            config=config,
        ),
    )

    def answer(text: str, mode: str) -> Any:
        request = GenerateRequest(schema=SPANS, input=text, mode=mode, max_tokens=96)
        return real_runtime.generate(request, adapter=str(adapter))

    valid = 0
    for pair in PAIRS:
        free = answer(pair.input, "unconstrained")
        constrained = answer(pair.input, "constrained")
        assert constrained.valid
        if free.valid:
            valid += 1
            assert constrained.raw == free.raw, pair.input
            assert free.raw.startswith('{"scenario":'), free.raw  # the order it was trained on
    assert valid >= len(PAIRS) // 2  # the check above ran on real answers
