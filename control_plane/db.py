"""Engine, sessions and schema migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
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
