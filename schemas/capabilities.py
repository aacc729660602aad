"""Which keywords of a schema grammar-constrained decoding enforces, and which it does not.

`capability_report` sorts every keyword occurrence into:
- "enforced": the decoding backend turns it into grammar, so every decoded token respects it;
- "validated_after": decoding does not enforce it; `validate_instance` checks the output after
  generation (and the engine falls back when it fails);
- "refused": `prepare` would refuse the schema because of it (remote refs, RE2-refused patterns);
- "ignored": annotations and unknown keywords, which neither decoding nor validation assert.

and adds "recursion": whether the schema is recursive, the references that close a recursion,
and the nesting limit that bounds what the model may produce (with the request's token budget).
"""

from typing import Any

from jsonschema import Draft202012Validator

from schemas.validation import NESTING_LIMIT, pattern_error, recursive_paths
from schemas.walk import parse_fragment, pointer, walk

# ---------------------------------------------------------------------------------------------
# The keyword tables, one per backend. They describe Outlines 1.3.3 with llguidance 1.9 (this
# project's first-choice backend, see service/inference/decoding.py) and outlines_core 0.2.14,
# and were established by compiling one-keyword schemas with each backend: a keyword is
# "enforced" when the backend's grammar/regex changes because of it. llguidance refuses keywords
# it cannot enforce ("Unimplemented keys"); its backend then compiles the schema leniently
# (those keywords ignored, everything else enforced), so they land in "validated_after".
BACKEND_TABLES: dict[str, dict[str, frozenset[str]]] = {
    "llguidance": {
        "keywords": frozenset(
            {
                "$ref",
                "additionalProperties",
                "allOf",
                "anyOf",
                "const",
                "enum",
                "exclusiveMaximum",
                "exclusiveMinimum",
                "items",
                "maxItems",
                "maxLength",
                "maximum",
                "minItems",
                "minLength",
                "minimum",
                "multipleOf",
                "pattern",
                "patternProperties",
                "prefixItems",
                "properties",
                "required",
                "type",
            }
        ),
        "formats": frozenset(
            {"date", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "time", "uri"}
            | {"uuid"}
        ),
    },
    "outlines_core": {
        "keywords": frozenset(
            {
                "$ref",
                # outlines_core only ever emits declared properties, which satisfies `false`.
                "additionalProperties",
                "allOf",
                "anyOf",
                "const",
                "enum",
                "items",
                "maxItems",
                "maxLength",
                "minItems",
                "minLength",
                "pattern",
                "prefixItems",
                "properties",
                "required",
                "type",
            }
        ),
        "formats": frozenset({"date", "date-time", "email", "time", "uri", "uuid"}),
    },
}
DEFAULT_BACKEND = "llguidance"

# Notes for keywords a backend does not enforce, where the reason is worth a sentence.
NOTES = {
    "oneOf": "decoded as anyOf; that exactly one branch matches is checked after generation",
    "uniqueItems": "checked after generation",
    "$dynamicRef": "resolved statically; checked after generation",
}

# Keywords no backend or validator asserts (Draft 2020-12 annotations and structure).
ANNOTATIONS = frozenset(
    {
        "$anchor",
        "$comment",
        "$defs",
        "$dynamicAnchor",
        "$id",
        "$schema",
        "$vocabulary",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "default",
        "definitions",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)
# Keywords jsonschema asserts for Draft 2020-12 (the rest are annotations or unknown).
ASSERTED = frozenset(Draft202012Validator.VALIDATORS) - ANNOTATIONS


def _entry(keyword: str, path: tuple, note: str | None = None) -> dict[str, str]:
    entry = {"keyword": keyword, "path": pointer(path + (keyword,))}
    if note:
        entry["note"] = note
    return entry


def _refusal(keyword: str, value: Any, path: tuple) -> str | None:
    """Why `prepare` refuses this keyword occurrence, or None."""
    if keyword in ("$ref", "$dynamicRef") and isinstance(value, str):
        if parse_fragment(value) is None:
            return f"{value!r} is not a local reference"
    if keyword == "pattern" and isinstance(value, str) and pattern_error(value):
        return f"RE2 refuses the pattern: {pattern_error(value)}"
    if keyword == "patternProperties" and isinstance(value, dict):
        bad = [p for p in value if pattern_error(p)]
        if bad:
            return f"RE2 refuses the pattern {bad[0]!r}: {pattern_error(bad[0])}"
    return None


def capability_report(schema: Any, backend: str = DEFAULT_BACKEND) -> dict[str, Any]:
    """Every keyword occurrence in `schema` as enforced / validated_after / refused / ignored."""
    if backend not in BACKEND_TABLES:
        raise ValueError(f"unknown backend {backend!r}; known: {sorted(BACKEND_TABLES)}")
    table = BACKEND_TABLES[backend]
    checked_formats = set(Draft202012Validator.FORMAT_CHECKER.checkers)
    report: dict[str, Any] = {
        "enforced": [],
        "validated_after": [],
        "refused": [],
        "ignored": [],
    }
    for path, node, _ in walk(schema):
        if not isinstance(node, dict):
            continue
        for keyword, value in node.items():
            reason = _refusal(keyword, value, path)
            if reason:
                report["refused"].append(_entry(keyword, path, reason))
            elif keyword == "format":
                if value in table["formats"]:
                    report["enforced"].append(_entry(keyword, path, str(value)))
                elif value in checked_formats:
                    report["validated_after"].append(
                        _entry(keyword, path, f"{value}: checked after generation")
                    )
                else:
                    report["ignored"].append(
                        _entry(keyword, path, f"unknown format {value!r} is not checked")
                    )
            elif keyword in table["keywords"]:
                report["enforced"].append(_entry(keyword, path))
            elif keyword in ASSERTED:
                note = NOTES.get(
                    keyword, f"{backend} does not enforce it; checked after generation"
                )
                report["validated_after"].append(_entry(keyword, path, note))
            else:
                note = "annotation" if keyword in ANNOTATIONS else "unknown keyword, not asserted"
                report["ignored"].append(_entry(keyword, path, note))
    cycles = recursive_paths(schema) if isinstance(schema, dict) else []
    report["recursion"] = {
        "recursive": bool(cycles),
        "references": cycles,
        "nesting_limit": NESTING_LIMIT,
        "note": (
            "recursive: decoding follows the recursion; answers stop at max_tokens and are "
            f"refused beyond {NESTING_LIMIT} nested levels"
            if cycles
            else "not recursive"
        ),
    }
    return report
