"""Schemas shared by the inference tests; bounded so a random model must finish them."""

NESTED = {
    "type": "object",
    "properties": {
        "kind": {"enum": ["order", "refund", "question"]},
        "urgent": {"type": "boolean"},
        "note": {"type": ["string", "null"], "maxLength": 6},
        "customer": {
            "type": "object",
            "properties": {
                "tier": {"enum": ["gold", "silver", None]},
                "name": {"type": ["string", "null"], "maxLength": 5},
            },
            "required": ["tier", "name"],
            "additionalProperties": False,
        },
        "tags": {
            "type": "array",
            "items": {"enum": ["a", "b", "c"]},
            "maxItems": 3,
        },
    },
    "required": ["kind", "urgent", "note", "customer", "tags"],
    "additionalProperties": False,
}
