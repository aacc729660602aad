from sqlmodel import SQLModel

import service.models  # noqa: F401  (registers every table on the metadata)
from alembic import context
from service.config import get_settings
from service.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
