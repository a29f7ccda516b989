from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from control_plane.db import create_engine, migrate
from control_plane.models import Base


def test_migrating_an_empty_database_creates_exactly_the_models_tables(settings):
    migrate(settings.database_url)

    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert set(inspector.get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
        for name, table in Base.metadata.tables.items():
            assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_migrating_twice_is_a_no_op(settings):
    migrate(settings.database_url)
    migrate(settings.database_url)

    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0004"
    engine.dispose()
