"""Alembic environment: control_plane.db.migrate passes an open connection in ``config.attributes``;
otherwise (the ``alembic`` command line) the configured database URL is used."""

from __future__ import annotations

from alembic import context

import control_plane.budgets
import control_plane.dashboards
import control_plane.notify
import control_plane.teams  # noqa: F401
from control_plane.models import Base


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from control_plane.db import create_engine
    from control_plane.settings import Settings

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or Settings().database_url)
    with engine.begin() as fresh:
        _run(fresh)
    engine.dispose()
