"""Size limits a schema must respect to enter the registry (checked by `prepare`)."""

from dataclasses import dataclass, field, fields


@dataclass
class Limits:
    """Hostile-schema limits. Every limit violation is refused with code "schema_too_large"."""

    max_bytes: int = field(
        default=256 * 1024,
        metadata={"help": "Maximum size of the schema's canonical JSON, in UTF-8 bytes."},
    )
    max_depth: int = field(
        default=32,
        metadata={"help": "Maximum nesting of subschemas (properties -> items -> ... levels)."},
    )
    max_json_depth: int = field(
        default=128,
        metadata={
            "help": "Maximum nesting of JSON containers anywhere in the document, including "
            "const, enum, default and examples values."
        },
    )
    max_properties: int = field(
        default=512,
        metadata={"help": "Maximum number of `properties` entries, summed over the whole schema."},
    )
    max_enum: int = field(
        default=1000, metadata={"help": "Maximum number of values in one `enum`."}
    )
    max_pattern_length: int = field(
        default=1000,
        metadata={"help": "Maximum length of one `pattern` or `patternProperties` key."},
    )
    max_string_length: int = field(
        default=10_000,
        metadata={"help": "Maximum length of a string inside a `const` or `enum` value."},
    )
    max_subschemas: int = field(
        default=10_000,
        metadata={"help": "Maximum number of subschemas written in the document."},
    )
    max_expanded_subschemas: int = field(
        default=100_000,
        metadata={
            "help": "Maximum number of subschemas once every $ref is expanded: refs that fan out "
            "(a: [b, b], b: [c, c], ...) make validation and grammars exponential."
        },
    )
    max_issues: int = field(
        default=50, metadata={"help": "Maximum number of issues reported for one schema."}
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{f.name} must be a positive integer, got {value!r}")
