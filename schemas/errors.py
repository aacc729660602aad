"""The registry's error vocabulary: one exception for a refused schema, one record per problem."""

from dataclasses import dataclass, field

# Codes the HTTP layer maps to a status: "schema_too_large" -> 413, every other one -> 422.
CODES = frozenset(
    {
        "invalid_schema",
        "schema_too_large",
        "unsupported_schema",
        "remote_ref",
        "ref_cycle",
        "unsafe_pattern",
    }
)


@dataclass(frozen=True)
class Issue:
    """One problem at a JSON Pointer: into the schema, or into an instance being validated."""

    path: str
    message: str
    keyword: str | None = None


@dataclass
class SchemaRejected(Exception):
    """A schema that may not enter the registry, with a code, one human sentence and the issues."""

    code: str
    detail: str
    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown SchemaRejected code {self.code!r}")
        super().__init__(self.detail)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"
