"""A small weather-like schema and examples shared by the training tests."""

from __future__ import annotations

from typing import Any

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
