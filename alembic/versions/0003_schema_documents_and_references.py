"""schema documents as registered, internal form, dialect, and cross-subject references

Revision ID: 0003
Revises: 0002

`schema_versions.body` now holds the document exactly as registered. Versions registered before
were stored with sorted keys, so the author's property order is gone from them; it is recovered
where the team's own labeled examples show it (the order keys first appear in their outputs,
see `schemas.order`), and otherwise stays sorted. Only key order moves: the sorted-key
fingerprint, the version number and the id of every existing version are unchanged.
`document` (the internal form every generator reads) and `dialect` are computed from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

versions = sa.table(
    "schema_versions",
    sa.column("id", sa.Integer),
    sa.column("body", sa.JSON),
    sa.column("document", sa.JSON),
    sa.column("dialect", sa.String),
)
examples = sa.table(
    "examples",
    sa.column("id", sa.Integer),
    sa.column("schema_version_id", sa.Integer),
    sa.column("output", sa.JSON),
    sa.column("labeled", sa.Boolean),
)


def _backfill() -> None:
    from schemas.errors import SchemaRejected
    from schemas.order import order_like
    from schemas.validation import prepare

    conn = op.get_bind()
    for version_id, body in conn.execute(sa.select(versions.c.id, versions.c.body)).all():
        outputs = conn.execute(
            sa.select(examples.c.output)
            .where(examples.c.schema_version_id == version_id, examples.c.labeled.is_(True))
            .order_by(examples.c.id)
        ).scalars()
        body = order_like(body, list(outputs))
        try:
            prepared = prepare(body)
            document, dialect = prepared.schema, prepared.dialect.name
        except SchemaRejected:
            # Accepted under the old, stricter rules, so this does not happen; if a limit
            # changed, the version keeps serving its stored body.
            document, dialect = body, "2020-12"
        conn.execute(
            versions.update()
            .where(versions.c.id == version_id)
            .values(body=body, document=document, dialect=dialect)
        )


def upgrade() -> None:
    # Plain ADD COLUMN (a default makes NOT NULL legal on existing rows) rather than a batch
    # table copy, which would drop SQLite's AUTOINCREMENT on schema_versions.
    op.add_column(
        "schema_versions",
        sa.Column("document", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.add_column(
        "schema_versions",
        sa.Column(
            "dialect",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="2020-12",
        ),
    )
    _backfill()
    op.create_table(
        "schema_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schema_version_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("referenced_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["referenced_id"], ["schema_versions.id"]),
        sa.ForeignKeyConstraint(["schema_version_id"], ["schema_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schema_version_id", "name"),
    )
    with op.batch_alter_table("schema_references", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schema_references_schema_version_id"), ["schema_version_id"]
        )
        batch_op.create_index(batch_op.f("ix_schema_references_referenced_id"), ["referenced_id"])


def downgrade() -> None:
    with op.batch_alter_table("schema_references", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schema_references_referenced_id"))
        batch_op.drop_index(batch_op.f("ix_schema_references_schema_version_id"))
    op.drop_table("schema_references")
    with op.batch_alter_table("schema_versions", schema=None) as batch_op:
        batch_op.drop_column("dialect")
        batch_op.drop_column("document")
