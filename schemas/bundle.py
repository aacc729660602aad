"""Resolve every reference once and bundle the result into one self-contained document.

The registry never fetches anything. A reference resolves to the document itself, to a resource
embedded in it (`$id` below the root, `$anchor`, draft-06/07 `"$id": "#name"`), or to another
registered schema the registration named in `references` (given here as `externals`, keyed by the
URI the schema uses). Anything else is a remote reference and is refused with its URI.

The bundled document is the internal form (see `schemas.normalize`) of the root, with every
referenced external document placed under the root's `$defs` and every `$ref` rewritten to a
JSON Pointer from the root ("#/..."). That is the form grammar backends, the compatibility
checker and the capability report read: no base URIs, no anchors, no dynamic scope.
`$dynamicRef`/`$recursiveRef` are resolved statically (their plain `$ref` meaning).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urldefrag

from jsonschema_specifications import REGISTRY as METASCHEMAS
from referencing import Registry
from referencing.exceptions import Unresolvable

from schemas.dialects import DEFAULT, Dialect, dialect_of
from schemas.errors import Issue
from schemas.normalize import LISTS, MAPS, SINGLE, Normalized, adopt, normalize
from schemas.walk import Path, normalize_path, pointer
from schemas.walk import join_uri as urljoin


@dataclass
class Bundle:
    document: dict[str, Any]
    remote: list[Issue] = field(default_factory=list)  # refs to documents nobody registered
    broken: list[Issue] = field(default_factory=list)  # refs that do not resolve to a subschema
    aliases: dict[str, str] = field(default_factory=dict)  # absolute URI -> external name
    used: list[str] = field(default_factory=list)  # externals the document refers to


@dataclass
class _Doc:
    name: str  # "" for the root, the reference name otherwise
    body: Any
    dialect: Dialect
    normalized: Normalized
    place: Path | None = None


def _schema_nodes(body: Any, dialect: Dialect) -> dict[int, Path]:
    """id() of every object subschema -> its path (objects only: booleans are shared singletons)."""
    found: dict[int, Path] = {}
    stack: list[tuple[Path, Any]] = [((), body)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            continue
        found.setdefault(id(node), path)
        for key, value in node.items():
            if key in SINGLE or key in ("items", "additionalItems"):
                if isinstance(value, list):
                    stack.extend((path + (key, i), v) for i, v in enumerate(value))
                else:
                    stack.append((path + (key,), value))
            elif key in LISTS and isinstance(value, list):
                stack.extend((path + (key, i), v) for i, v in enumerate(value))
            elif key in (*MAPS, "dependencies") and isinstance(value, dict):
                stack.extend((path + (key, k), v) for k, v in value.items())
    return found


def _issue_path(doc: _Doc, site_path: Path, keyword: str) -> str:
    where = pointer(site_path + (keyword,))
    return where if not doc.name else f"{doc.name}#{where}"


def bundle(
    body: dict[str, Any], dialect: Dialect, externals: Mapping[str, Any] | None = None
) -> Bundle:
    """The self-contained internal form of `body`; see the module docstring."""
    externals = dict(externals or {})
    root_base = _root_base(body, dialect)
    docs = [_Doc("", body, dialect, normalize(body, dialect, root_base))]
    for name, ext in {**externals, **_metaschemas(docs[0], externals)}.items():
        ext_dialect = dialect_of(ext, default=dialect) if isinstance(ext, dict) else DEFAULT
        docs.append(_Doc(name, ext, ext_dialect, normalize(ext, ext_dialect, name)))
    registry: Registry = Registry().with_resources(
        [(root_base, dialect.specification.create_resource(body))]
        + [(d.name, d.dialect.specification.create_resource(d.body)) for d in docs[1:]]
    )
    registry = registry.crawl()
    resolver = registry.resolver()
    nodes: dict[int, tuple[int, Path]] = {}
    for index, doc in enumerate(docs):
        for key, path in _schema_nodes(doc.body, doc.dialect).items():
            nodes.setdefault(key, (index, path))

    result = Bundle(docs[0].normalized.document)
    docs[0].place = ()
    # Each placed document's sites are resolved once; `done` counts them per document, as
    # adopting a target inside an unknown keyword adds sites to an already visited document.
    done = [0] * len(docs)
    queue = [0]
    while queue:
        doc_index = queue.pop(0)
        doc = docs[doc_index]
        while done[doc_index] < len(doc.normalized.sites):
            site = doc.normalized.sites[done[doc_index]]
            done[doc_index] += 1
            target = _resolve(site.value, site.base, resolver, nodes, externals, result)
            if target is None:
                url = urldefrag(urljoin(site.base, site.value))[0]
                known = url in externals or urldefrag(site.value)[0] in externals
                if known or _is_local(url, registry):
                    result.broken.append(
                        Issue(
                            _issue_path(doc, site.path, site.keyword),
                            f"{site.value!r} does not resolve to a subschema",
                            site.keyword,
                        )
                    )
                else:
                    result.remote.append(
                        Issue(
                            _issue_path(doc, site.path, site.keyword),
                            f"{site.value!r} refers to {url!r}, which is not in this document "
                            "and not a registered reference",
                            site.keyword,
                        )
                    )
                continue
            index, orig = target
            target_doc = docs[index]
            norm = target_doc.normalized.paths.get(orig)
            if norm is None:
                norm = adopt(
                    target_doc.normalized,
                    target_doc.body,
                    orig,
                    target_doc.dialect,
                    site.base if target_doc is doc else target_doc.name,
                )
            if norm is None:
                result.broken.append(
                    Issue(
                        _issue_path(doc, site.path, site.keyword),
                        f"{site.value!r} does not point at a subschema",
                        site.keyword,
                    )
                )
                continue
            if target_doc.place is None:
                target_doc.place = _place(result.document, target_doc)
                result.used.append(target_doc.name)
            if index not in queue and done[index] < len(target_doc.normalized.sites):
                queue.append(index)
            site.holder[site.key] = "#" + pointer(target_doc.place + norm)
    return result


def _metaschemas(root: _Doc, externals: Mapping[str, Any]) -> dict[str, Any]:
    """The published metaschemas the document refers to (shipped with jsonschema, never
    fetched), with the vocabulary metaschemas they refer to in turn."""
    found: dict[str, Any] = {}
    pending = [root.normalized]
    while pending:
        for site in pending.pop().sites:
            url = urldefrag(urljoin(site.base, site.value))[0]
            if url in found or url in externals:
                continue
            try:
                contents = METASCHEMAS.contents(url)
            except (LookupError, Unresolvable):
                continue
            found[url] = contents
            meta = dialect_of(contents) if isinstance(contents, dict) else DEFAULT
            pending.append(normalize(contents, meta, url))
    return found


def _root_base(body: dict, dialect: Dialect) -> str:
    value = body.get(dialect.id_keyword)
    if isinstance(value, str) and not (dialect.legacy and "$ref" in body):
        url = urldefrag(value)[0]
        if url:
            return url
    return ""


def _is_local(url: str, registry: Registry) -> bool:
    try:
        registry.resolver().lookup(url)
    except Unresolvable:
        return False
    return True


def _place(root: dict[str, Any], doc: _Doc) -> Path:
    """Put an external document under the root's $defs; its path there."""
    defs = root.setdefault("$defs", {})
    key = doc.name
    while key in defs:
        key += "_"
    document = doc.normalized.document
    if isinstance(document, dict):
        document.pop("$schema", None)
    defs[key] = document
    return ("$defs", key)


def _resolve(
    value: str,
    base: str,
    resolver: Any,
    nodes: dict[int, tuple[int, Path]],
    externals: Mapping[str, Any],
    bundle: Bundle,
) -> tuple[int, Path] | None:
    """(document index, original path) of the subschema `value` refers to, or None."""
    url, fragment = urldefrag(urljoin(base, value))
    try:
        resource = resolver.lookup(url)
    except Unresolvable:
        # References are named by the URI the schema writes, relative or not (as Confluent does).
        written = urldefrag(value)[0]
        if written not in externals:
            return None
        url = written
        try:
            resource = resolver.lookup(url)
        except Unresolvable:
            return None
        bundle.aliases[urldefrag(urljoin(base, value))[0]] = written
    start = nodes.get(id(resource.contents))
    if start is None:
        return None
    if not fragment:
        return start
    if fragment.startswith("/"):
        # Booleans are shared singletons, so a pointer is followed by path, not by identity.
        parts = tuple(
            p.replace("~1", "/").replace("~0", "~") for p in unquote(fragment)[1:].split("/")
        )
        try:
            return start[0], start[1] + normalize_path(resource.contents, parts)
        except (LookupError, ValueError, TypeError):
            return None
    try:
        found = resolver.lookup(url + "#" + fragment)
    except Unresolvable:
        return None
    return nodes.get(id(found.contents))
