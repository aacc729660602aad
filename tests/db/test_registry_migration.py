"""Migration 0003: versions registered before it keep their id, version and fingerprint; their
property order is recovered from the team's examples; they get the internal form."""

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from schemas.canonical import canonical_json, fingerprint
from service.db import make_engine
from service.migrate import upgrade

# As the old registry stored it: sorted keys (json.loads of the canonical text).
AUTHOR = {
    "type": "object",
    "properties": {
        "scenario": {"enum": ["weather", "music"]},
        "action": {"type": "string"},
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
            },
        },
    },
    "required": ["scenario", "action"],
}
STORED = json.loads(canonical_json(AUTHOR))
EXAMPLE = {"scenario": "music", "action": "play", "entities": [{"type": "artist", "text": "x"}]}


def _seed(conn, now):
    conn.execute(
        sa.text(
            "INSERT INTO teams (id, name, log_payloads, max_concurrent_jobs, created_at) "
            "VALUES (1, 't', false, 1, :now)"
        ),
        {"now": now},
    )
    conn.execute(
        sa.text(
            "INSERT INTO subjects (id, team_id, name, compatibility, mode, last_version, "
            "created_at) VALUES (1, 1, 'cmd', 'BACKWARD', 'READWRITE', 2, :now)"
        ),
        {"now": now},
    )
    for version_id, version in ((7, 1), (9, 2)):
        conn.execute(
            sa.text(
                "INSERT INTO schema_versions (id, subject_id, version, body, fingerprint, "
                "capabilities, created_at) VALUES (:id, 1, :v, :body, :fp, '{}', :now)"
            ),
            {
                "id": version_id,
                "v": version,
                "body": json.dumps(STORED),
                "fp": fingerprint(AUTHOR),
                "now": now,
            },
        )
    # Only version 1 has examples that show the author's order.
    conn.execute(
        sa.text(
            "INSERT INTO examples (team_id, schema_version_id, input, output, labeled, source, "
            "dedup_key, created_at) VALUES (1, 7, 'play x', :out, true, 'human', 'k', :now)"
        ),
        {"out": json.dumps(EXAMPLE), "now": now},
    )


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_existing_versions_keep_identity_and_recover_order(db_url):
    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        _seed(conn, datetime.now(UTC))
    upgrade(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, version, fingerprint, body, document, dialect FROM schema_versions "
                "ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [(7, 1), (9, 2)]
    for row in rows:
        body = row[3] if isinstance(row[3], dict) else json.loads(row[3])
        document = row[4] if isinstance(row[4], dict) else json.loads(row[4])
        assert row[2] == fingerprint(AUTHOR) == fingerprint(body)
        assert row[5] == "2020-12"
        assert document["properties"].keys() == body["properties"].keys()
    recovered = rows[0][3] if isinstance(rows[0][3], dict) else json.loads(rows[0][3])
    assert list(recovered["properties"]) == ["scenario", "action", "entities"]
    entity = recovered["properties"]["entities"]["items"]["properties"]
    assert list(entity) == ["type", "text"]
    untouched = rows[1][3] if isinstance(rows[1][3], dict) else json.loads(rows[1][3])
    assert list(untouched["properties"]) == sorted(AUTHOR["properties"])
