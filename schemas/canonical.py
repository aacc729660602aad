"""Canonical JSON text and content fingerprints of schemas (and of any JSON value).

The canonical form is `json.dumps` with sorted keys, no whitespace and `ensure_ascii=False`.
Numbers are written exactly as Python's json module writes them: integers as integers and floats
with their shortest round-trip repr, so `1` and `1.0` are different texts and give different
fingerprints. We keep that distinction on purpose: it is what the author wrote, it survives a
JSON round trip unchanged, and normalizing would make the fingerprint disagree with the stored
body. NaN and Infinity are not JSON and are refused (ValueError).
"""

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept; raises ValueError/TypeError for non-JSON."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def fingerprint(value: Any) -> str:
    """ "sha256:" + hex digest of the canonical JSON text in UTF-8."""
    # surrogatepass: a lone surrogate cannot be stored as UTF-8, but the fingerprint must not
    # raise; `prepare` refuses such schemas separately.
    data = canonical_json(value).encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def document_key(document: Any) -> str:
    """ "sha256:" of a document's JSON text in its own key order.

    The fingerprint is the identity and ignores key order; anything cached per generated form
    (a compiled grammar emits properties in the document's order) must key on this instead, or
    two documents that differ only in order would share one grammar.
    """
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()
