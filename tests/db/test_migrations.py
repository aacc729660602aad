import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import service.models  # noqa: F401
from service.db import make_engine
from service.migrate import upgrade


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_migrations_create_exactly_the_models_tables(db_url):
    upgrade(db_url)
    upgrade(db_url)  # a second run changes nothing
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []
