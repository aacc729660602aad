"""The official JSON Schema Test Suite (tests/data/json-schema-test-suite), read from disk.

Its `remotes/` are served from disk as registered references: every test schema is prepared
with the remotes as `externals` under their http://localhost:1234/ URIs, so nothing is fetched.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from schemas.dialects import DRAFT_4, DRAFT_6, DRAFT_7, DRAFT_2019_09, DRAFT_2020_12, Dialect

ROOT = Path(__file__).resolve().parents[1] / "data" / "json-schema-test-suite"
DRAFTS: dict[str, Dialect] = {
    "draft4": DRAFT_4,
    "draft6": DRAFT_6,
    "draft7": DRAFT_7,
    "draft2019-09": DRAFT_2019_09,
    "draft2020-12": DRAFT_2020_12,
}
REMOTE_BASE = "http://localhost:1234/"


@dataclass(frozen=True)
class Case:
    draft: str
    file: str  # relative to the draft's directory, e.g. "ref.json" or "optional/bignum.json"
    group: str
    description: str
    schema: Any
    data: Any
    valid: bool

    @property
    def optional(self) -> bool:
        return self.file.startswith("optional/")


OTHER_DRAFT_DIRS = ("draft3", "draft4", "draft6", "draft7", "draft2019-09", "draft2020-12", "v1")


@cache
def remotes(draft: str) -> dict[str, Any]:
    """The remotes a draft's tests may use: the shared ones and the draft's own folder."""
    found = {}
    for path in sorted((ROOT / "remotes").rglob("*.json")):
        relative = path.relative_to(ROOT / "remotes").as_posix()
        top = relative.split("/")[0]
        if top in OTHER_DRAFT_DIRS and top != draft:
            continue
        found[REMOTE_BASE + relative] = json.loads(path.read_text())
    return found


def externals_for(draft: str, schema: Any) -> dict[str, Any]:
    """The remotes, when the schema may refer outside itself; none otherwise (faster)."""
    text = json.dumps(schema)
    refs = ('"$ref": "', '"$dynamicRef": "', '"$recursiveRef": "')
    if "localhost:1234" in text or any(text.count(r) != text.count(r + "#") for r in refs):
        return remotes(draft)
    return {}


def files(draft: str) -> list[str]:
    base = ROOT / "tests" / draft
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*.json"))


def cases(draft: str, file: str) -> Iterator[Case]:
    groups = json.loads((ROOT / "tests" / draft / file).read_text())
    for group in groups:
        for test in group["tests"]:
            yield Case(
                draft,
                file,
                group["description"],
                test["description"],
                group["schema"],
                test["data"],
                test["valid"],
            )


# Required tests the registry answers differently on purpose, with the reason.
DEVIATIONS: dict[tuple[str, str], str] = {
    ("format.json", "only an annotation by default"): (
        "the registry asserts `format` in every draft (what it generates must satisfy it), "
        "where 2019-09/2020-12 make it an annotation by default"
    ),
    ("vocabulary.json", "custom metaschema"): (
        "a custom metaschema as $schema is refused (unsupported_schema): the registry serves "
        "the five published drafts"
    ),
    ("vocabulary.json", "unrecognized optional vocabulary"): (
        "a custom metaschema as $schema is refused (unsupported_schema)"
    ),
    ("unevaluatedProperties.json", "unevaluatedProperties with $recursiveRef"): (
        "$recursiveRef is followed statically when collecting evaluated properties"
    ),
}


def deviation(case: Case) -> str | None:
    for (file, words), reason in DEVIATIONS.items():
        if case.file == file and (words in case.group or words in case.description):
            return reason
    return None
