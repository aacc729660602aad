"""Recover an author's property order from the values they wrote.

Versions registered before the registry kept documents as registered were stored with sorted
keys. Their examples were written by the team in the order they think in, so the first order in
which keys appear in those values is the best evidence left of the order of `properties`.
"""

from typing import Any


def order_like(schema: Any, values: list[Any]) -> Any:
    """`schema` with each `properties` map reordered as keys first appear in `values`.

    Follows `properties` into object values and `items` into array elements; properties no
    value mentions keep their relative order, after the ones that do. The meaning (and the
    sorted-key fingerprint) is unchanged: only the order of keys in `properties` moves.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    props = schema.get("properties")
    objects = [v for v in values if isinstance(v, dict)]
    if isinstance(props, dict) and objects:
        seen: list[str] = []
        for value in objects:
            seen += [k for k in value if k in props and k not in seen]
        order = seen + [k for k in props if k not in seen]
        out["properties"] = {
            k: order_like(props[k], [v[k] for v in objects if k in v]) for k in order
        }
    items = schema.get("items")
    if isinstance(items, dict):
        elements = [e for v in values if isinstance(v, list) for e in v]
        out["items"] = order_like(items, elements)
    return out
