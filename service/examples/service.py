"""Examples: labeled pairs and unlabeled inputs, validated as a whole batch or not at all."""

import hashlib
from typing import Any

from sqlmodel import Session

from schemas.canonical import canonical_json
from schemas.validation import validate_instance
from service.errors import NotFound, Unprocessable
from service.examples import repository
from service.jsonbody import jsonl_lines, loads
from service.models import Example, Team
from service.registry import service as registry
from service.registry.service import resolve_version

MAX_INPUT_CHARS = 20_000
MAX_BATCH = 10_000


def dedup_key(input: str, output: Any, *, labeled: bool) -> str:
    body = input + "\0" + (canonical_json(output) if labeled else "\0unlabeled")
    return hashlib.sha256(body.encode()).hexdigest()


def parse_jsonl(text: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """Rows of a JSONL upload; blank lines are skipped, bad lines reported by index."""
    rows: list[Any] = []
    errors: list[dict[str, Any]] = []
    for number, line in enumerate(jsonl_lines(text)):
        if not line.strip():
            continue
        try:
            rows.append(loads(line))
        except Unprocessable as exc:
            errors.extend({"index": len(rows), "line": number + 1, **e} for e in exc.errors)
            rows.append(None)
    return rows, errors


def _row_errors(index: int, row: Any, schema: dict[str, Any]) -> list[dict[str, Any]]:
    def err(path: str, message: str) -> dict[str, Any]:
        return {"index": index, "path": path, "message": message}

    if not isinstance(row, dict):
        return [err("", "each example is an object {input, output?}")]
    unknown = sorted(set(row) - {"input", "output", "eval"})
    problems = [err(f"/{k}", "unknown field") for k in unknown]
    if "eval" in row and not isinstance(row["eval"], bool):
        problems.append(err("/eval", "eval must be true or false"))
    elif row.get("eval") and "output" not in row:
        problems.append(err("/eval", "only a labeled example (with an output) can be an eval one"))
    text = row.get("input")
    if not isinstance(text, str) or not text.strip():
        problems.append(err("/input", "input must be a non-empty string"))
    elif len(text) > MAX_INPUT_CHARS:
        problems.append(err("/input", f"input is longer than {MAX_INPUT_CHARS} characters"))
    if "output" in row:
        problems.extend(
            err("/output" + issue.path, issue.message)
            for issue in validate_instance(schema, row["output"])
        )
    return problems


def add_examples(
    session: Session,
    *,
    team: Team,
    name: str,
    rows: list[Any],
    version: int | str | None = None,
    source: str = "human",
    parse_errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Validate every row, then store them all, or store nothing and report every error."""
    schema_version, _ = resolve_version(session, team=team, name=name, version=version)
    if not rows and not parse_errors:
        raise Unprocessable("No examples were sent.", code="no_examples")
    if len(rows) > MAX_BATCH:
        raise Unprocessable(f"At most {MAX_BATCH} examples per request.", code="batch_too_large")
    errors = list(parse_errors or [])
    failed = {e["index"] for e in errors}
    for index, row in enumerate(rows):
        if index not in failed:
            errors.extend(_row_errors(index, row, schema_version.document))
    if errors:
        bad = len({e["index"] for e in errors})
        raise Unprocessable(
            f"{bad} of {len(rows)} examples are invalid; none were stored.",
            code="invalid_examples",
            errors=errors,
        )
    keyed: dict[str, tuple[dict[str, Any], bool]] = {}
    for row in rows:
        labeled = "output" in row
        key = dedup_key(row["input"], row.get("output"), labeled=labeled)
        keyed.setdefault(key, (row, labeled))
    seen = repository.existing_keys(session, schema_version_id=schema_version.id, keys=list(keyed))
    created = [
        Example(
            team_id=team.id,
            schema_version_id=schema_version.id,
            input=row["input"],
            output=row.get("output"),
            labeled=labeled,
            eval=bool(row.get("eval", False)),
            source=source,
            dedup_key=key,
        )
        for key, (row, labeled) in keyed.items()
        if key not in seen
    ]
    session.add_all(created)
    session.flush()
    return {
        "name": name,
        "version": schema_version.version,
        "added": len(created),
        "duplicates": len(rows) - len(created),
        "ids": [e.id for e in created],
    }


def carry_examples(
    session: Session, *, team: Team, name: str, source: int, target: int | None
) -> dict[str, Any]:
    """Copy the examples of version `source` that are valid under version `target` (default:
    the latest), keeping their labels, eval mark and origin; report every one that is not, with
    the path and the reason. Carrying twice adds nothing: an example already there is skipped."""
    old, _ = resolve_version(session, team=team, name=name, version=source)
    new, _ = resolve_version(session, team=team, name=name, version=target)
    if old.id == new.id:
        raise Unprocessable(
            f"Version {old.version} cannot be carried onto itself.",
            code="same_version",
            errors=[{"path": "/to", "message": "must name another version than 'from'"}],
        )
    rows = repository.all_for_version(session, schema_version_id=old.id)
    seen = repository.existing_keys(
        session, schema_version_id=new.id, keys=[e.dedup_key for e in rows]
    )
    carried: list[Example] = []
    errors: list[dict[str, Any]] = []
    present = 0
    for index, example in enumerate(rows):
        row = {"input": example.input, **({"output": example.output} if example.labeled else {})}
        problems = _row_errors(index, row, new.document)
        if problems:
            errors.extend({**e, "example_id": example.id} for e in problems)
        elif example.dedup_key in seen:
            present += 1
        else:
            seen.add(example.dedup_key)
            carried.append(
                Example(
                    team_id=team.id,
                    schema_version_id=new.id,
                    input=example.input,
                    output=example.output,
                    labeled=example.labeled,
                    eval=example.eval,
                    source=example.source,
                    dedup_key=example.dedup_key,
                )
            )
    session.add_all(carried)
    session.flush()
    return {
        "name": name,
        "from_version": old.version,
        "to_version": new.version,
        "examined": len(rows),
        "carried": len(carried),
        "already_present": present,
        "rejected": len({e["example_id"] for e in errors}),
        "ids": [e.id for e in carried],
        "errors": errors,
    }


def list_examples(
    session: Session,
    *,
    team: Team,
    name: str,
    version: int | None,
    labeled: bool | None,
    source: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Example], int]:
    if version is not None:
        found, _ = resolve_version(session, team=team, name=name, version=version)
        ids = [found.id]
    else:
        versions = registry.list_versions(session, team=team, name=name, deleted=False)
        ids = [v.id for v in versions]
    return repository.list_examples(
        session, schema_version_ids=ids, labeled=labeled, source=source, offset=offset, limit=limit
    )


def delete_example(session: Session, *, team: Team, name: str, id: int) -> None:
    versions = registry.list_versions(session, team=team, name=name, deleted=True)
    example = session.get(Example, id)
    if example is None or example.schema_version_id not in {v.id for v in versions}:
        raise NotFound(f"No example {id} under '{name}'.", code="example_not_found")
    session.delete(example)
    session.flush()
