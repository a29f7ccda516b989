"""What the migration tests share: running alembic to a revision as ``migrate`` does, and a database (SQLite or
PostgreSQL, by the fixture's parameter) migrated to a revision and holding some rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from control_plane.db import MIGRATIONS, create_engine


def alembic(url: str, action: Callable[[Config, str], None], revision: str) -> None:
    """``action`` (``command.upgrade`` or ``command.downgrade``) to ``revision``, as ``migrate`` does."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            action(config, revision)
    finally:
        engine.dispose()


def database_at(request, tmp_path, revision: str, rows: Sequence[str]) -> str:
    """A new database (``request.param``: `sqlite` or `postgresql`) at ``revision``, holding ``rows``."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database(f"test_{uuid.uuid4().hex[:12]}")
    else:
        url = f"sqlite:///{tmp_path / 'old.db'}"
    alembic(url, command.upgrade, revision)
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in rows:
            connection.execute(sa.text(statement))
    engine.dispose()
    return url


def query(url: str, sql: str) -> list[tuple]:
    """Run one statement in a transaction of its own; the rows it returns, if any."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
