"""One internal form for every draft: Draft 2020-12 keywords, in the author's key order.

`normalize` rewrites a document of any served draft into the Draft 2020-12 spelling of the same
meaning, keeping every object's keys in the order the author wrote them (generation follows that
order: grammars emit properties in it, and adapters learn it):

- `definitions` -> `$defs` (draft-04/06/07), `id` -> `$id` (draft-04);
- array-form `items` -> `prefixItems`, `additionalItems` -> `items` (up to 2019-09);
- boolean `exclusiveMaximum`/`exclusiveMinimum` next to `maximum`/`minimum` -> the numeric
  2020-12 form (draft-04);
- `dependencies` -> `dependentRequired` (array values) and `dependentSchemas` (schemas);
- keywords next to `$ref` are ignored by drafts up to 07, so they are dropped;
- `$recursiveRef` (2019-09) and `$dynamicRef` become plain references (resolved statically);
- keywords a later draft asserts but the document's own draft does not know (`const` in
  draft-04, `prefixItems` in draft-07, ...) are dropped, as the document's validator ignores them.

References are not resolved here: `normalize` returns the places that hold one (`RefSite`) and a
map from each original subschema path to its normalized path, which `schemas.bundle` uses to
point every reference at its normalized target.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

from schemas.dialects import DRAFT_2020_12, Dialect, lookup
from schemas.walk import Path
from schemas.walk import join_uri as urljoin

SINGLE = (
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
)
LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
MAPS = ("$defs", "definitions", "dependentSchemas", "patternProperties", "properties")
# Kept next to a draft-04..07 "$ref", which ignores every other keyword: they assert nothing,
# and definitions must stay where "#/definitions/..." pointers find them.
KEPT_BESIDE_LEGACY_REF = frozenset(
    {"$ref", "$comment", "$defs", "definitions", "default", "description", "examples", "title"}
)
IDENTIFIERS = frozenset({"$id", "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor"})
REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_ASSERTED_2020 = frozenset(DRAFT_2020_12.validator.VALIDATORS) | {"minContains", "maxContains"}


def _unknown_to(dialect: Dialect) -> frozenset[str]:
    known = set(dialect.validator.VALIDATORS)
    if dialect.order >= 3:
        known |= {"minContains", "maxContains"}
    # Spelled differently in older drafts and translated below, not dropped.
    return frozenset(_ASSERTED_2020 - known - {"items", "exclusiveMaximum", "exclusiveMinimum"})


_UNKNOWN: dict[str, frozenset[str]] = {}


@dataclass
class RefSite:
    """A reference in the original document and where its normalized twin must be written."""

    path: Path  # the subschema holding the reference, in the original document
    keyword: str
    value: str
    base: str  # the base URI in scope there
    holder: dict[str, Any]  # the normalized subschema
    key: str  # the key in `holder` that receives the resolved pointer


@dataclass
class Normalized:
    document: Any
    paths: dict[Path, Path] = field(default_factory=dict)  # original -> normalized subschema path
    sites: list[RefSite] = field(default_factory=list)


def normalize(schema: Any, dialect: Dialect, base: str = "") -> Normalized:
    """`schema` (already meta-validated for `dialect`) in the internal Draft 2020-12 form."""
    out = Normalized(None)
    out.document = _node(schema, (), (), dialect, base, out)
    return out


def _base_after(node: dict, dialect: Dialect, base: str) -> str:
    value = node.get(dialect.id_keyword)
    if not isinstance(value, str) or (dialect.legacy and "$ref" in node):
        return base
    url, _ = urldefrag(value)
    return urljoin(base, url) if url else base


def _node(node: Any, orig: Path, norm: Path, dialect: Dialect, base: str, out: Normalized) -> Any:
    if not isinstance(node, dict):
        if isinstance(node, bool):
            out.paths[orig] = norm
        return node
    out.paths[orig] = norm
    if orig and "$schema" in node and dialect.id_keyword in node:
        dialect = lookup(node["$schema"]) or dialect  # an embedded resource in another draft
    base = _base_after(node, dialect, base)
    unknown = _UNKNOWN.get(dialect.name)
    if unknown is None:
        unknown = _UNKNOWN[dialect.name] = _unknown_to(dialect)
    legacy_ref = dialect.legacy and "$ref" in node
    array_items = dialect.order < 4 and isinstance(node.get("items"), list)
    has_defs = "$defs" in node
    result: dict[str, Any] = {}

    def sub(value: Any, key: str, rest: tuple = ()) -> Any:
        return _node(value, orig + (key, *rest), norm + (out_key, *rest), dialect, base, out)

    for key, value in node.items():
        if legacy_ref and key not in KEPT_BESIDE_LEGACY_REF:
            continue
        if key in IDENTIFIERS or key in unknown:
            continue
        out_key = key
        if key == "$schema":
            if not orig:
                result[key] = DRAFT_2020_12.uri.removesuffix("#")
            continue
        if key in REF_KEYWORDS:
            if not isinstance(value, str):
                continue
            out_key = "$ref" if "$ref" not in node or key == "$ref" else key
            result[out_key] = value
            out.sites.append(RefSite(orig, key, value, base, result, out_key))
            continue
        if key == "definitions" and dialect.legacy and not has_defs:
            out_key = "$defs"
        if key in ("maximum", "minimum") and dialect.order == 0:
            if node.get("exclusive" + key[0].upper() + key[1:]) is True:
                out_key = "exclusive" + key[0].upper() + key[1:]
            result[out_key] = value
            continue
        if key in ("exclusiveMaximum", "exclusiveMinimum") and dialect.order == 0:
            continue
        if key == "items" and array_items:
            out_key = "prefixItems"
            result[out_key] = [sub(v, key, (i,)) for i, v in enumerate(value)]
            continue
        if key == "additionalItems" and dialect.order < 4:
            if array_items:
                out_key = "items"
                result[out_key] = sub(value, key)
            continue
        if key == "dependencies" and dialect.legacy and isinstance(value, dict):
            for name, dep in value.items():
                if isinstance(dep, list):
                    result.setdefault("dependentRequired", {})[name] = dep
                else:
                    out_key = "dependentSchemas"
                    deps = result.setdefault(out_key, {})
                    deps[name] = _node(
                        dep, orig + (key, name), norm + (out_key, name), dialect, base, out
                    )
            continue
        if key in SINGLE or key == "items":
            result[out_key] = sub(value, key)
        elif key in LISTS and isinstance(value, list):
            result[out_key] = [sub(v, key, (i,)) for i, v in enumerate(value)]
        elif key in MAPS and isinstance(value, dict):
            result[out_key] = {name: sub(v, key, (name,)) for name, v in value.items()}
        else:
            result[out_key] = value
    return result


_STRUCTURAL = frozenset(SINGLE + LISTS + MAPS + ("items", "additionalItems", "dependencies"))


def adopt(out: Normalized, original: Any, path: Path, dialect: Dialect, base: str) -> Path | None:
    """Normalize, in place, a value a reference points at inside an unknown keyword.

    Drafts allow a `$ref` to any location of the document, e.g. `#/definitions/x/full` where
    `full` is no keyword at all; `normalize` copied such values verbatim, so the value is
    normalized as a schema where the reference finds it. Returns its normalized path, or None
    when the location does not hold a schema or was dropped.
    """
    prefix = path
    while prefix and prefix not in out.paths:
        prefix = prefix[:-1]
    rest = path[len(prefix) :]
    if not rest or rest[0] in _STRUCTURAL or rest[0] in REF_KEYWORDS:
        return None
    value = original
    for seg in path:
        value = value[int(seg) if isinstance(value, list) else seg]
    if not isinstance(value, dict | bool):
        return None
    where = out.paths[prefix] + rest
    parent = out.document
    try:
        for seg in where[:-1]:
            parent = parent[int(seg) if isinstance(parent, list) else seg]
        key = int(where[-1]) if isinstance(parent, list) else where[-1]
        parent[key]  # noqa: B018 - the location must exist in the normalized copy
    except (LookupError, TypeError, ValueError):
        return None
    parent[key] = _node(value, path, where, dialect, base, out)
    return where
