"""The JSON Schema drafts the registry serves, and how a document says which one it is.

A document names its dialect with `$schema` at the root; none means Draft 2020-12. Both the
`http` and `https` spellings and the trailing empty fragment (`#`) are accepted, as every
published metaschema has been cited each way.
"""

from dataclasses import dataclass
from typing import Any

import jsonschema
from referencing import Specification
from referencing import jsonschema as specs

from schemas.errors import Issue, SchemaRejected


@dataclass(frozen=True)
class Dialect:
    """One JSON Schema draft: name, canonical URI, jsonschema validator, referencing rules."""

    name: str
    uri: str
    validator: Any
    specification: Specification
    # Releases up to draft-07 ignore every keyword next to "$ref"; they spell definitions
    # "definitions" and per-key dependencies "dependencies".
    legacy: bool
    id_keyword: str

    @property
    def order(self) -> int:
        return ORDER.index(self.name)


DRAFT_4 = Dialect(
    "draft-04",
    "http://json-schema.org/draft-04/schema#",
    jsonschema.Draft4Validator,
    specs.DRAFT4,
    True,
    "id",
)
DRAFT_6 = Dialect(
    "draft-06",
    "http://json-schema.org/draft-06/schema#",
    jsonschema.Draft6Validator,
    specs.DRAFT6,
    True,
    "$id",
)
DRAFT_7 = Dialect(
    "draft-07",
    "http://json-schema.org/draft-07/schema#",
    jsonschema.Draft7Validator,
    specs.DRAFT7,
    True,
    "$id",
)
DRAFT_2019_09 = Dialect(
    "2019-09",
    "https://json-schema.org/draft/2019-09/schema",
    jsonschema.Draft201909Validator,
    specs.DRAFT201909,
    False,
    "$id",
)
DRAFT_2020_12 = Dialect(
    "2020-12",
    "https://json-schema.org/draft/2020-12/schema",
    jsonschema.Draft202012Validator,
    specs.DRAFT202012,
    False,
    "$id",
)
DIALECTS = (DRAFT_4, DRAFT_6, DRAFT_7, DRAFT_2019_09, DRAFT_2020_12)
ORDER = tuple(d.name for d in DIALECTS)
DEFAULT = DRAFT_2020_12


def _key(uri: str) -> str:
    return uri.removesuffix("#").removeprefix("https://").removeprefix("http://")


_BY_KEY = {_key(d.uri): d for d in DIALECTS}


def lookup(uri: Any) -> Dialect | None:
    """The dialect a `$schema` value names, or None when the registry does not serve it."""
    return _BY_KEY.get(_key(uri)) if isinstance(uri, str) else None


def dialect_of(schema: Any, default: Dialect = DEFAULT) -> Dialect:
    """The dialect of a document; raises SchemaRejected ("unsupported_schema") for others."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return default
    found = lookup(schema["$schema"])
    if found is None:
        supported = ", ".join(d.name for d in DIALECTS)
        raise SchemaRejected(
            "unsupported_schema",
            f"The registry serves the drafts {supported}; $schema names another dialect.",
            [Issue("/$schema", f"{schema['$schema']!r} is not a supported dialect", "$schema")],
        )
    return found
