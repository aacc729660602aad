"""SQLite sessions: reads run outside any transaction (no write lock held while a request runs
the model), the first write or locking read takes the write lock, and writers queue."""

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from service.db import session_scope
from service.models import Team


def in_transaction(session: Session) -> bool:
    return session.connection().connection.dbapi_connection.in_transaction


def test_a_read_holds_no_lock_and_a_writer_goes_ahead(engine):
    with Session(engine) as reader:
        assert reader.exec(select(Team)).all() == []
        assert not in_transaction(reader)
        with session_scope(engine) as writer:
            writer.add(Team(name="acme"))
        # The reader, still open, reads the committed row: it held no snapshot either.
        assert [t.name for t in reader.exec(select(Team))] == ["acme"]


def test_the_first_write_takes_the_write_lock_until_the_commit(engine):
    with Session(engine) as first, Session(engine) as second:
        first.add(Team(name="acme"))
        first.flush()
        assert in_transaction(first)
        second.connection().exec_driver_sql("PRAGMA busy_timeout=50")
        second.add(Team(name="other"))
        with pytest.raises(OperationalError, match="database is locked"):
            second.flush()  # a writer waits for the lock (30 s by default), never upgrades
        second.rollback()
        first.commit()
        assert not in_transaction(first)
        second.add(Team(name="other"))
        second.commit()
        assert sorted(t.name for t in second.exec(select(Team))) == ["acme", "other"]


def test_a_locking_read_takes_the_write_lock(engine):
    with session_scope(engine) as session:
        session.add(Team(name="acme"))
    with Session(engine) as session:
        session.exec(select(Team).where(Team.name == "acme").with_for_update()).one()
        assert in_transaction(session)
        session.rollback()
        assert not in_transaction(session)
