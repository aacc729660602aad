"""Iterative traversal of schemas, JSON Pointers and local `$ref` resolution.

The traversal knows the subschema keywords of every served draft (Draft 2020-12 plus the older
`definitions`, array-form `items`, `additionalItems` and `dependencies`), so size limits apply
to a document before it is normalized.

Everything here uses explicit stacks, never Python recursion, so a hostile 10,000-deep document
costs a loop, not a RecursionError.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

# Keywords whose value is one subschema, a list of subschemas, or a map name -> subschema.
# "definitions" is not a 2020-12 keyword, but draft-07 habits put `#/definitions/x` refs in many
# real schemas and jsonschema resolves them by pointer, so its entries are walked as subschemas.
SCHEMA_KEYWORDS = (
    "additionalItems",
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "items",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
)
SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
SCHEMA_MAP_KEYWORDS = (
    "$defs",
    "definitions",
    "dependencies",
    "dependentSchemas",
    "patternProperties",
    "properties",
)

Path = tuple[str | int, ...]


def pointer(path: Path) -> str:
    """A JSON Pointer ("" for the root) from path segments."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def children(schema: Any) -> Iterator[tuple[Path, Any]]:
    """Direct subschemas of `schema` as (relative path, subschema); tolerates malformed values."""
    if not isinstance(schema, dict):
        return
    for keyword in SCHEMA_KEYWORDS:
        value = schema.get(keyword)
        if isinstance(value, dict | bool):
            yield (keyword,), value
    for keyword in SCHEMA_LIST_KEYWORDS:
        value = schema.get(keyword)
        if isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, dict | bool):
                    yield (keyword, i), sub
    for keyword in SCHEMA_MAP_KEYWORDS:
        value = schema.get(keyword)
        if isinstance(value, dict):
            for name, sub in value.items():
                if isinstance(sub, dict | bool):
                    yield (keyword, name), sub


def walk(schema: Any, max_depth: int | None = None) -> Iterator[tuple[Path, Any, int]]:
    """Every subschema as (path, subschema, depth), preorder; the root has depth 0.

    With `max_depth`, subschemas deeper than it are yielded but not expanded, so the caller sees
    the first too-deep node and the walk stays bounded.
    """
    stack: list[tuple[Path, Any, int]] = [((), schema, 0)]
    while stack:
        path, node, depth = stack.pop()
        yield path, node, depth
        if max_depth is not None and depth > max_depth:
            continue
        kids = [(path + rel, sub, depth + 1) for rel, sub in children(node)]
        stack.extend(reversed(kids))


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of JSON containers in `value`, counting stops once it passes `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return deepest
        items = node.values() if isinstance(node, dict) else node
        stack.extend((v, depth + 1) for v in items if isinstance(v, dict | list))
    return deepest


def json_strings(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a JSON value."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            yield from (k for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def parse_fragment(ref: str) -> tuple[str, Path | str] | None:
    """A local ref as ("pointer", segments) or ("anchor", name); None when it is not local.

    Only fragment-only references ("#", "#/a/b", "#name") are local: anything with a scheme, a
    path or a host points at another document, which the registry never fetches.
    """
    if not ref.startswith("#"):
        return None
    fragment = unquote(ref[1:])
    if fragment == "":
        return "pointer", ()
    if fragment.startswith("/"):
        parts = fragment[1:].split("/")
        return "pointer", tuple(p.replace("~1", "/").replace("~0", "~") for p in parts)
    return "anchor", fragment


def anchors(schema: Any) -> dict[str, Path]:
    """`$anchor` and `$dynamicAnchor` names -> the path of the subschema declaring them."""
    found: dict[str, Path] = {}
    for path, node, _ in walk(schema):
        if isinstance(node, dict):
            for keyword in ("$anchor", "$dynamicAnchor"):
                name = node.get(keyword)
                if isinstance(name, str):
                    found.setdefault(name, path)
    return found


def resolve_pointer(root: Any, segments: Path) -> Any:
    """The value at `segments` in `root`; raises LookupError when it does not exist."""
    node = root
    for seg in segments:
        if isinstance(node, dict):
            node = node[seg]
        elif isinstance(node, list):
            text = str(seg)
            # JSON Pointer array indexes are plain decimal numbers without leading zeros.
            if not text.isdigit() or (len(text) > 1 and text.startswith("0")):
                raise LookupError(seg)
            node = node[int(text)]
        else:
            raise LookupError(seg)
    return node


def normalize_path(root: Any, segments: Path) -> Path:
    """Segments with list indexes turned into ints, so they compare equal to `walk` paths."""
    out: list[str | int] = []
    node = root
    for seg in segments:
        if isinstance(node, list):
            out.append(int(seg))
            node = node[int(seg)]
        else:
            out.append(seg)
            node = node[seg]
    return tuple(out)


def join_uri(base: str, ref: str) -> str:
    """`ref` resolved against `base`; fragment-only refs also work on URNs (urljoin's gap)."""
    if ref.startswith("#"):
        return urldefrag(base)[0] + ref
    return urljoin(base, ref)
