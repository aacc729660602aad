"""Database engines and sessions. The request or the task owns the transaction."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from service.config import get_settings

log = logging.getLogger(__name__)

# Statements that write, or lock what they read, on SQLite (which drops FOR UPDATE from the SQL).
_SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")


def _sqlite_writes(statement: str, context: Any) -> bool:
    if statement.lstrip()[:9].upper().startswith(_SQLITE_WRITES):
        return True
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A session holds its connection for the whole request, including model work: no cap
        # on connections beyond the pooled five (SQLite connections are a file handle each).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            max_overflow=-1,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver: SQLAlchemy's BEGIN is ours to issue (below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Nothing yet: reads run without a transaction, so they never hold SQLite's one
            # write lock (a generate request reads, then runs the model for seconds).
            pass

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_write_begins(
            conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
        ) -> None:
            # The first write (or locking read) takes the write lock for the rest of the
            # transaction: BEGIN IMMEDIATE, never a deferred read upgraded to a write, which
            # fails at once when another writer committed meanwhile. Writers queue instead.
            dbapi_conn = conn.connection.dbapi_connection
            if not dbapi_conn.in_transaction and _sqlite_writes(statement, context):
                dbapi_conn.execute("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.resolved_database_url.startswith("sqlite"):
        settings.private_data_dir()  # whichever command opens it first, it is created private
    return make_engine(settings.resolved_database_url)


def after_commit(session: Session, send: Callable[[], None]) -> None:
    """Call `send` once the session's transaction commits (session_scope); dropped on rollback.

    For messages to other processes (Celery jobs): sent before the commit, a worker could read
    the database before the row it is told about exists, or act on a row that is rolled back.
    """
    session.info.setdefault("after_commit", []).append(send)


@contextmanager
def session_scope(db_engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error, then runs `after_commit`."""
    with Session(db_engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            session.info.pop("after_commit", None)
            raise
        for send in session.info.pop("after_commit", []):
            try:
                send()
            except Exception:  # noqa: BLE001 - committed already; the job sweeper sends again
                log.exception("sending after commit failed")
