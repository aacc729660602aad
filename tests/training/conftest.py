"""Fixtures for training/: a small weather-like schema and examples, and a validator stand-in.

`schemas/validation.py` is being written alongside; until it lands, `validate_instance` is
a jsonschema Draft 2020-12 stand-in installed for these tests only.
"""

from __future__ import annotations

import importlib
import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest

from training.data import Pair

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"]},
        "unit": {"enum": ["celsius", "fahrenheit", "kelvin"]},
        "day": {"type": ["string", "null"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}

EXAMPLES = [
    Pair(
        "temperature in Paris in celsius today",
        {"city": "Paris", "unit": "celsius", "day": "today"},
    ),
    Pair("how warm is Rome in fahrenheit", {"city": "Rome", "unit": "fahrenheit", "day": None}),
    Pair("forecast in celsius", {"city": None, "unit": "celsius"}),
]


@dataclass(frozen=True)
class _Issue:
    path: str
    message: str


def _stand_in() -> types.ModuleType:
    from jsonschema import Draft202012Validator

    def validate_instance(schema: Any, instance: Any) -> list[_Issue]:
        validator = Draft202012Validator(schema)
        return [
            _Issue("/" + "/".join(str(p) for p in e.absolute_path), e.message)
            for e in validator.iter_errors(instance)
        ]

    module = types.ModuleType("schemas.validation")
    module.validate_instance = validate_instance  # type: ignore[attr-defined]
    return module


@pytest.fixture(autouse=True)
def schema_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        ready = hasattr(importlib.import_module("schemas.validation"), "validate_instance")
    except ImportError:
        ready = False
    if not ready:
        monkeypatch.setitem(sys.modules, "schemas.validation", _stand_in())
