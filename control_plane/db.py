"""Engine, sessions and schema migrations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Route plain PostgreSQL URLs to the psycopg (v3) driver."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    return url


def create_engine(url: str, *, pool_size: int | None = None, pool_timeout: float | None = None) -> sa.Engine:
    """An engine for ``url``. ``pool_size`` connections are kept (as many again may be opened in overflow,
    for imports and the scheduler beside the requests); a request waiting ``pool_timeout`` seconds for one
    fails with ``sqlalchemy.exc.TimeoutError``, which the API answers 503 with Retry-After."""
    options: dict[str, object] = {}
    if pool_size is not None:
        options.update(pool_size=pool_size, max_overflow=pool_size)
    if pool_timeout is not None:
        options["pool_timeout"] = pool_timeout
    engine = sa.create_engine(normalize_url(url), **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


def release(session: Session) -> None:
    """Give the session's connection back to the pool once a read has everything it needs from the
    database, before its columnar (DuckDB / pyarrow) work: objects already loaded stay readable, and the
    session may still be used (it opens a new transaction)."""
    session.close()


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the latest schema (Alembic ``upgrade head``)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


_INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
"""The INSERT of each supported dialect: both offer ``ON CONFLICT DO NOTHING``."""


def insert_new(session: Session, model: Any, rows: list[dict[str, Any]], unique: list[Any]) -> int:
    """INSERT ... ON CONFLICT (``unique``) DO NOTHING, in the database's own dialect: rows another transaction
    (or replica) inserted first are skipped, never an error. Returns how many rows were inserted."""
    dialect = session.get_bind().dialect.name
    insert = _INSERTS.get(dialect)
    if insert is None:
        raise NotImplementedError(f"the control plane runs on PostgreSQL or SQLite, not {dialect}")
    statement = insert(model).values(rows).on_conflict_do_nothing(index_elements=unique).returning(model.id)
    return len(session.execute(statement).all())
