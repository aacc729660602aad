"""The registry's gate (`prepare`) and its instance validator (`validate_instance`).

`prepare` is the only way a schema enters the registry. It accepts draft-04, -06, -07, 2019-09
and 2020-12 (no `$schema` means 2020-12): the document is meta-validated by its own draft's
metaschema, checked against size limits, its references resolved without any network (inside
the document, or to registered schemas named in `references`), its patterns checked for RE2, and
it is normalized once into the internal form (`schemas.normalize`, `schemas.bundle`). Instances
are validated by the document's own draft's rules (jsonschema's validator for that draft), with
formats asserted, patterns run by RE2 (linear time) and no network access, ever.

Recursion: a recursive `$ref` is accepted when every cycle passes through a keyword that steps
into the instance (`properties`, `items`, ...), so each turn consumes a level of a finite JSON
value: a tree whose `children` array may be empty. A cycle that never leaves the current
instance (`{"$ref": "#"}`, `a -> allOf -> b -> a`) would make any validator loop forever and is
refused ("ref_cycle").
"""

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2
from jsonschema import FormatChecker, validators
from jsonschema._utils import extras_msg
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from schemas.bundle import bundle
from schemas.canonical import canonical_json, fingerprint
from schemas.dialects import DEFAULT, DIALECTS, Dialect, dialect_of
from schemas.errors import Issue, SchemaRejected
from schemas.limits import Limits
from schemas.walk import (
    Path,
    anchors,
    children,
    json_depth,
    json_strings,
    normalize_path,
    parse_fragment,
    pointer,
    walk,
)

_MAX_MESSAGE = 500
_HEX = frozenset("0123456789abcdefABCDEF")
MAX_INSTANCE_ISSUES = 100
# How deep a value may nest (objects and arrays) to be valid under any schema. Recursive schemas
# admit unboundedly deep values; what the model may produce is bounded by the token budget and
# by this limit, which the capability report shows.
NESTING_LIMIT = 64
_CACHE_SIZE = 256


# --- RE2 ---------------------------------------------------------------------------------------


def _re2_options() -> re2.Options:
    options = re2.Options()
    # RE2 logs every refused pattern to stderr by default; refusals are reported as issues.
    options.log_errors = False
    return options


_OPTIONS = _re2_options()


# Unicode general categories by their long names (ECMA-262 `u` mode accepts both); RE2 knows
# only the short ones.
_CATEGORIES = {
    "Letter": "L",
    "Cased_Letter": "LC",
    "Uppercase_Letter": "Lu",
    "Lowercase_Letter": "Ll",
    "Titlecase_Letter": "Lt",
    "Modifier_Letter": "Lm",
    "Other_Letter": "Lo",
    "Mark": "M",
    "Number": "N",
    "Decimal_Number": "Nd",
    "digit": "Nd",
    "Letter_Number": "Nl",
    "Other_Number": "No",
    "Punctuation": "P",
    "punct": "P",
    "Symbol": "S",
    "Math_Symbol": "Sm",
    "Currency_Symbol": "Sc",
    "Separator": "Z",
    "Space_Separator": "Zs",
    "Other": "C",
    "Control": "Cc",
    "cntrl": "Cc",
}
_CATEGORY_RE = re.compile(r"\\([pP])\{(?:General_Category=|gc=)?(" + "|".join(_CATEGORIES) + r")\}")


def _translate(pattern: str) -> str:
    r"""ECMA-262 escapes RE2 spells differently: \uXXXX becomes \x{XXXX}, \p{Letter} \p{L}."""
    if "\\p{" in pattern or "\\P{" in pattern:
        pattern = _CATEGORY_RE.sub(lambda m: f"\\{m[1]}{{{_CATEGORIES[m[2]]}}}", pattern)
    if "\\u" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            hexdigits = pattern[i + 2 : i + 6]
            if nxt == "u" and len(hexdigits) == 4 and all(c in _HEX for c in hexdigits):
                out.append("\\x{" + hexdigits + "}")
                i += 6
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> Any:
    """An RE2 regex for a JSON Schema pattern; raises re2.error when RE2 refuses it."""
    return re2.compile(_translate(pattern), _OPTIONS)


def pattern_error(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None when it compiles."""
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return None


def _search(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


# --- The validator class: Draft 2020-12 with every regex evaluated by RE2 ----------------------
# jsonschema 4.26 calls `re.search` in pattern, patternProperties, additionalProperties (through
# find_additional_properties) and unevaluatedProperties (through
# find_evaluated_property_keys_by_schema). Python's backtracking engine makes `^(a+)+$` against
# "aaa...!" exponential, so each of those keywords is replaced by an RE2 twin below.


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, pp: dict, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in pp.items():
        for key, value in instance.items():
            if _search(patrn, key):
                yield from validator.descend(value, subschema, path=key, schema_path=patrn)


def _additional(instance: dict, schema: dict) -> Iterator[str]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key in properties or any(_search(p, key) for p in patterns):
            continue
        yield key


def _additional_properties(validator: Any, ap: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    extras = set(_additional(instance, schema))
    if validator.is_type(ap, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], ap, path=extra)
    elif not ap and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            error = "Additional properties are not allowed (%s %s unexpected)"
            yield ValidationError(error % extras_msg(sorted(extras, key=str)))


def _valid(errors: Iterator[Any]) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator: Any, instance: dict, schema: Any) -> list[str]:
    """jsonschema's find_evaluated_property_keys_by_schema, with RE2 for patternProperties."""
    if validator.is_type(schema, "boolean"):
        return []
    keys: list[str] = []
    for ref_keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
        ref = schema.get(ref_keyword)
        if ref is not None:
            resolved = validator._resolver.lookup(ref)
            sub = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            keys.extend(_evaluated_keys(sub, instance, resolved.contents))
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is None:
            continue
        keys += (k for k, v in instance.items() if _valid(validator.descend(v, subschema)))
    for key in instance:
        if any(_search(p, key) for p in schema.get("patternProperties", {})):
            keys.append(key)
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in instance:
            keys += _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _valid(validator.descend(instance, subschema)):
                keys += _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys


def _unevaluated_properties(validator: Any, up: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = set(_evaluated_keys(validator, instance, schema))
    bad = [
        key
        for key in instance
        if key not in evaluated
        and not _valid(validator.descend(instance[key], up, path=key, schema_path=key))
    ]
    if bad:
        if up is False:
            error = "Unevaluated properties are not allowed (%s %s unexpected)"
            yield ValidationError(error % extras_msg(sorted(bad, key=str)))
        else:
            error = (
                "Unevaluated properties are not valid under the given schema "
                "(%s %s unevaluated and invalid)"
            )
            yield ValidationError(error % extras_msg(bad))


def _validator_class(dialect: Dialect) -> Any:
    overrides = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    if "unevaluatedProperties" in dialect.validator.VALIDATORS:
        overrides["unevaluatedProperties"] = _unevaluated_properties
    return validators.extend(dialect.validator, validators=overrides)


def _regex_format(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    compile_pattern(instance)
    return True


def _format_checker(dialect: Dialect) -> FormatChecker:
    # The draft's own checkers (formats are asserted, not just annotations), with "regex"
    # judged by RE2, the engine that would run the pattern.
    checker = FormatChecker(formats=())
    checker.checkers = dict(dialect.validator.FORMAT_CHECKER.checkers)
    checker.checkers["regex"] = (_regex_format, re2.error)
    return checker


VALIDATORS = {d.name: _validator_class(d) for d in DIALECTS}
FORMAT_CHECKERS = {d.name: _format_checker(d) for d in DIALECTS}
Validator = VALIDATORS[DEFAULT.name]
FORMAT_CHECKER = FORMAT_CHECKERS[DEFAULT.name]


def _no_network(uri: str) -> Resource:
    # The registry never fetches anything: a ref that is not local has no resource.
    raise NoSuchResource(uri)


REGISTRY: Registry = Registry(retrieve=_no_network)  # type: ignore[call-arg]


def build_validator(
    schema: Any, dialect: Dialect = DEFAULT, registry: Registry | None = None
) -> Any:
    """A validator for `dialect` with formats checked, RE2 patterns, and no network."""
    return VALIDATORS[dialect.name](
        schema, registry=registry or REGISTRY, format_checker=FORMAT_CHECKERS[dialect.name]
    )


_META = {d.name: d.validator(d.validator.META_SCHEMA, registry=REGISTRY) for d in DIALECTS}


# --- prepare -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedSchema:
    """A schema that passed `prepare`.

    `body` is a private copy of the document exactly as registered (key order included);
    `schema` is the internal form (`schemas.bundle`): Draft 2020-12, self-contained, in the
    author's key order — what grammars, prompts, training targets, compatibility and the
    capability report read. `canonical` and `fingerprint` are the identity (sorted keys).
    """

    body: dict[str, Any]
    schema: dict[str, Any]
    canonical: str
    fingerprint: str
    validator: Any
    dialect: Dialect
    externals: tuple[str, ...] = ()  # the references the document uses, by name

    def validate(self, instance: Any) -> list[Issue]:
        """Issues of `instance` against this schema (empty: valid)."""
        return _issues(self.validator, instance)


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def _reject(code: str, detail: str, issues: list[Issue], limits: Limits) -> SchemaRejected:
    return SchemaRejected(code, detail, issues[: limits.max_issues])


def _check_document(schema: Any, limits: Limits) -> str:
    if isinstance(schema, bool):
        raise SchemaRejected(
            "unsupported_schema",
            "A boolean schema cannot be served; register an object schema instead.",
            [Issue("", f"the schema is the boolean {str(schema).lower()}")],
        )
    if not isinstance(schema, dict):
        raise SchemaRejected(
            "invalid_schema",
            "A schema must be a JSON object.",
            [Issue("", f"expected an object, got {type(schema).__name__}")],
        )
    depth = json_depth(schema, limits.max_json_depth)
    if depth > limits.max_json_depth:
        raise SchemaRejected(
            "schema_too_large",
            f"The schema nests JSON deeper than {limits.max_json_depth} levels.",
            [Issue("", f"nesting depth exceeds {limits.max_json_depth}")],
        )
    try:
        text = canonical_json(schema)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise SchemaRejected(
            "invalid_schema", "The schema is not valid JSON.", [Issue("", _short(str(exc)))]
        ) from exc
    if size > limits.max_bytes:
        raise SchemaRejected(
            "schema_too_large",
            f"The schema is {size} bytes of canonical JSON; the limit is {limits.max_bytes}.",
            [Issue("", f"{size} bytes > {limits.max_bytes}")],
        )
    return text


def _check_limits(schema: dict, limits: Limits) -> None:
    issues: list[Issue] = []
    count = properties = 0
    for path, node, depth in walk(schema, max_depth=limits.max_depth):
        count += 1
        if depth > limits.max_depth:
            issues.append(Issue(pointer(path), f"subschema nesting exceeds {limits.max_depth}"))
            break
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("properties"), dict):
            properties += len(node["properties"])
        enum = node.get("enum")
        if isinstance(enum, list) and len(enum) > limits.max_enum:
            issues.append(
                Issue(
                    pointer(path + ("enum",)),
                    f"{len(enum)} enum values > {limits.max_enum}",
                    "enum",
                )
            )
        for keyword in ("enum", "const"):
            if keyword in node and any(
                len(s) > limits.max_string_length for s in json_strings(node[keyword])
            ):
                issues.append(
                    Issue(
                        pointer(path + (keyword,)),
                        f"a string longer than {limits.max_string_length} characters",
                        keyword,
                    )
                )
    if count > limits.max_subschemas:
        issues.append(Issue("", f"{count} subschemas > {limits.max_subschemas}"))
    if properties > limits.max_properties:
        issues.append(Issue("", f"{properties} properties in total > {limits.max_properties}"))
    if issues:
        raise _reject(
            "schema_too_large", "The schema exceeds the registry's size limits.", issues, limits
        )


def _meta_message(error: ValidationError) -> str:
    # The metaschema wraps "type" and friends in anyOf; the best sub-error says what is wrong.
    if error.context:
        return _short(best_match(error.context).message)
    return _short(error.message)


def _check_meta(schema: dict, dialect: Dialect, limits: Limits) -> None:
    errors = sorted(
        _META[dialect.name].iter_errors(schema),
        key=lambda e: (_sort_key(e.absolute_path), e.message),
    )
    if errors:
        issues = [
            Issue(pointer(tuple(e.absolute_path)), _meta_message(e), str(e.validator))
            for e in errors
        ]
        first = issues[0]
        raise _reject(
            "invalid_schema",
            f"The schema is not a valid {dialect.name} schema: {first.message}"
            f" (at '{first.path or '/'}').",
            issues,
            limits,
        )


# Keywords that apply their subschema to a part of the instance (a property, an item, a key):
# a reference cycle through one of them consumes a level of the instance on every turn.
DESCENDING = frozenset(
    {
        "additionalProperties",
        "contains",
        "contentSchema",
        "items",
        "patternProperties",
        "prefixItems",
        "properties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)

Edges = dict[Path, list[tuple[Path, bool]]]


def ref_graph(schema: dict) -> tuple[dict[Path, Any], Edges]:
    """Subschemas by path and the evaluation edges between them, each marked with whether it
    descends into the instance. `schema` is in the bundled form: every ref is "#/..." or "#name".
    """
    nodes: dict[Path, Any] = {}
    edges: Edges = {}
    named = anchors(schema)
    for path, node, _ in walk(schema):
        nodes[path] = node
        # Containment through $defs is not evaluation: a definition runs only when referenced.
        edges[path] = [
            (path + rel, rel[0] in DESCENDING)
            for rel, _ in children(node)
            if rel[0] not in ("$defs", "definitions")
        ]
    for path, node in nodes.items():
        if not isinstance(node, dict):
            continue
        for keyword in ("$ref", "$dynamicRef"):
            parsed = parse_fragment(node[keyword]) if isinstance(node.get(keyword), str) else None
            if parsed is None:
                continue
            kind, where = parsed
            target: Path | None
            if kind == "anchor":
                target = named.get(where)  # type: ignore[arg-type]
            else:
                try:
                    target = normalize_path(schema, where)  # type: ignore[arg-type]
                except (LookupError, ValueError, TypeError):
                    target = None
            if target in nodes:
                edges[path].append((target, False))
    return nodes, edges


def _dfs(edges: Edges, *, same_instance: bool) -> tuple[list[Path] | None, list[Path]]:
    """(the first cycle found, or None; postorder of the nodes), iteratively.

    With `same_instance`, only edges that stay on the current instance are followed (a cycle
    there never terminates); otherwise every edge is followed and cycles are skipped over.
    """
    gray, black = 1, 2
    color: dict[Path, int] = {}
    order: list[Path] = []

    def successors(node: Path) -> Any:
        return iter([t for t, down in edges[node] if not (same_instance and down)])

    for start in edges:
        if start in color:
            continue
        color[start] = gray
        stack = [(start, successors(start))]
        trail = [start]
        while stack:
            node, following = stack[-1]
            nxt = next(following, None)
            if nxt is None:
                stack.pop()
                trail.pop()
                color[node] = black
                order.append(node)
            elif color.get(nxt) == gray:
                if same_instance:
                    return trail[trail.index(nxt) :] + [nxt], order
            elif nxt not in color:
                color[nxt] = gray
                stack.append((nxt, successors(nxt)))
                trail.append(nxt)
    return None, order


def recursive_paths(schema: dict) -> list[str]:
    """JSON Pointers of the references that close a recursion (empty: not recursive)."""
    nodes, edges = ref_graph(schema)
    cyclic = _strongly_connected(edges)
    found = []
    for path, node in nodes.items():
        if path in cyclic and isinstance(node, dict):
            found += [pointer(path + (k,)) for k in ("$ref", "$dynamicRef") if k in node]
    return found


def _strongly_connected(edges: Edges) -> set[Path]:
    """Nodes on some cycle (Tarjan's algorithm, iteratively)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    on_stack: set[Path] = set()
    stack: list[Path] = []
    cyclic: set[Path] = set()
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, following = work[-1]
            step = next(following, None)
            if step is not None:
                nxt = step[0]
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or any(t == node for t, _ in edges[node]):
                    cyclic.update(component)
    return cyclic


def _check_refs(schema: dict, limits: Limits) -> None:
    nodes, edges = ref_graph(schema)
    cycle, _ = _dfs(edges, same_instance=True)
    if cycle is not None:
        hops = " -> ".join("#" + pointer(p) for p in cycle)
        issues = []
        for here, there in zip(cycle, cycle[1:], strict=False):
            node = nodes[here]
            for keyword in ("$ref", "$dynamicRef"):
                if isinstance(node, dict) and isinstance(node.get(keyword), str):
                    issues.append(
                        Issue(
                            pointer(here + (keyword,)),
                            f"reference leads back to '#{pointer(there)}' without stepping into "
                            "the instance",
                            keyword,
                        )
                    )
        raise _reject(
            "ref_cycle",
            f"The schema's references form a cycle that never steps into the instance ({hops}):"
            " validating anything against it would never end. Recursion must pass through "
            "properties, items or another keyword that descends into the value.",
            issues or [Issue(pointer(cycle[0]), "part of a reference cycle")],
            limits,
        )
    # Sizes are summed in postorder with the edges that close a recursion left out (a grammar
    # turns those into a rule, not a copy); capped so fan-out cannot overflow.
    _, order = _dfs(edges, same_instance=False)
    cap = limits.max_expanded_subschemas + 1
    size: dict[Path, int] = {}
    for node in order:
        size[node] = min(cap, 1 + sum(size.get(m, 0) for m, _ in edges[node]))
    biggest = max(size.values(), default=0)
    if biggest >= cap:
        raise _reject(
            "schema_too_large",
            "The schema's references expand to more than "
            f"{limits.max_expanded_subschemas} subschemas.",
            [Issue("", f"more than {limits.max_expanded_subschemas} subschemas once expanded")],
            limits,
        )


def _check_patterns(schema: dict, limits: Limits) -> None:

    unsafe: list[Issue] = []
    invalid: list[Issue] = []
    too_long: list[Issue] = []
    for path, node, _ in walk(schema):
        if not isinstance(node, dict):
            continue
        found: list[tuple[Path, str]] = []
        if isinstance(node.get("pattern"), str):
            found.append((path + ("pattern",), node["pattern"]))
        if isinstance(node.get("patternProperties"), dict):
            found.extend((path + ("patternProperties", k), k) for k in node["patternProperties"])
        for where, patrn in found:
            keyword = "patternProperties" if where[-2:-1] == ("patternProperties",) else "pattern"
            if len(patrn) > limits.max_pattern_length:
                too_long.append(
                    Issue(
                        pointer(where), f"pattern longer than {limits.max_pattern_length}", keyword
                    )
                )
                continue
            reason = pattern_error(patrn)
            if reason is None:
                continue
            try:
                re.compile(patrn)
            except (re.error, RecursionError, OverflowError):
                invalid.append(
                    Issue(pointer(where), f"not a regular expression: {reason}", keyword)
                )
            else:
                unsafe.append(
                    Issue(
                        pointer(where),
                        f"RE2 cannot run {patrn!r} in linear time: {reason}",
                        keyword,
                    )
                )
    if too_long:
        raise _reject("schema_too_large", "The schema has over-long patterns.", too_long, limits)
    if invalid:
        raise _reject(
            "invalid_schema",
            "The schema has patterns that are not regular expressions.",
            invalid,
            limits,
        )
    if unsafe:
        raise _reject(
            "unsafe_pattern",
            "The schema has patterns RE2 refuses (backreferences, lookaround and other "
            "features that need backtracking); rewrite them without those features.",
            unsafe,
            limits,
        )


def _check_bundle(found: Any, limits: Limits) -> None:
    if found.remote:
        raise _reject(
            "remote_ref",
            "The schema refers to other documents; nothing is ever fetched. Register each one "
            "as a schema of your team and name it in the registration's `references` "
            '([{"name": <the URI as written in $ref>, "subject": ..., "version": ...}]).',
            found.remote,
            limits,
        )
    if found.broken:
        raise _reject(
            "invalid_schema", "The schema has references that do not resolve.", found.broken, limits
        )


def _resources(dialect: Dialect, externals: dict[str, Any], aliases: dict[str, str]) -> Registry:
    """The registry an instance validator resolves references in: the externals, no network."""
    pairs = []
    for name, body in externals.items():
        ext = dialect_of(body, default=dialect) if isinstance(body, dict) else dialect
        pairs.append((name, ext.specification.create_resource(body)))
    for alias, name in aliases.items():
        body = externals[name]
        ext = dialect_of(body, default=dialect) if isinstance(body, dict) else dialect
        pairs.append((alias, ext.specification.create_resource(body)))
    return REGISTRY.with_resources(pairs)


def prepare(
    schema: Any,
    limits: Limits | None = None,
    *,
    externals: dict[str, Any] | None = None,
    default_dialect: Dialect = DEFAULT,
) -> PreparedSchema:
    """Check `schema` for the registry and compile it; raises SchemaRejected with every issue.

    `externals` maps the URI a `$ref` uses to the document it names (registered references,
    already prepared themselves); nothing else outside the document resolves.
    """
    limits = limits or Limits()
    externals = dict(externals or {})
    # Cheap, iterative, bounded checks first: later steps (meta-validation, json.dumps) recurse.
    text = _check_document(schema, limits)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SchemaRejected(
            "invalid_schema",
            "The schema contains a string that is not valid Unicode.",
            [Issue("", "unpaired surrogate in a string")],
        ) from exc
    dialect = dialect_of(schema, default=default_dialect)
    _check_limits(schema, limits)
    _check_meta(schema, dialect, limits)
    # A private copy in the author's key order: the caller may mutate its dict later.
    body = json.loads(json.dumps(schema, ensure_ascii=False))
    found = bundle(body, dialect, externals)
    _check_bundle(found, limits)
    document = json.loads(json.dumps(found.document, ensure_ascii=False))
    _check_document(document, limits)
    _check_refs(document, limits)
    _check_patterns(schema, limits)
    used = {name: externals[name] for name in found.used if name in externals}
    registry = _resources(dialect, used, found.aliases) if used else None
    return PreparedSchema(
        body=body,
        schema=document,
        canonical=text,
        fingerprint=fingerprint(schema),
        validator=build_validator(body, dialect, registry),
        dialect=dialect,
        externals=tuple(sorted(used)),
    )


# --- validate_instance -------------------------------------------------------------------------


def _sort_key(path: Any) -> tuple[tuple[int, Any], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in path)


def _issues(validator: Any, instance: Any) -> list[Issue]:
    if json_depth(instance, NESTING_LIMIT) > NESTING_LIMIT:
        return [Issue("", f"the value nests deeper than the limit of {NESTING_LIMIT} levels")]
    try:
        errors = [
            (_sort_key(e.absolute_path), pointer(tuple(e.absolute_path)), e.message, e.validator)
            for e in validator.iter_errors(instance)
        ]
    except RecursionError:
        return [Issue("", "the instance is nested too deeply to validate")]
    except Exception as exc:  # noqa: BLE001 - a validator bug must not become a 5xx
        return [Issue("", f"the instance could not be validated ({type(exc).__name__})")]
    errors.sort(key=lambda e: (e[0], e[2]))
    issues = [Issue(path, _short(message), str(kw)) for _, path, message, kw in errors]
    if len(issues) > MAX_INSTANCE_ISSUES:
        more = len(issues) - MAX_INSTANCE_ISSUES
        issues = issues[:MAX_INSTANCE_ISSUES] + [Issue("", f"{more} more issues not shown")]
    return issues


class _LRU:
    """A small thread-safe LRU of prepared schemas keyed by fingerprint."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, PreparedSchema] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> PreparedSchema | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: str, value: PreparedSchema) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_CACHE = _LRU(_CACHE_SIZE)


def prepared(schema: dict[str, Any]) -> PreparedSchema:
    """`prepare(schema)`, cached by fingerprint (bounded LRU)."""
    key = fingerprint(schema)
    found = _CACHE.get(key)
    if found is None:
        found = prepare(schema)
        _CACHE.put(key, found)
    return found


def validate_instance(schema: dict[str, Any], instance: Any) -> list[Issue]:
    """Issues of `instance` under `schema`, sorted by instance path (empty list: valid).

    The schema goes through `prepare` once (cached by fingerprint), so a schema the registry
    would refuse raises SchemaRejected here too; any JSON instance never raises.
    """
    return _issues(prepared(schema).validator, instance)
