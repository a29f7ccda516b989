"""`db.insert_new`: INSERT ... ON CONFLICT DO NOTHING in the database's own dialect, the one way import runs and
notifications are queued exactly once whichever process inserts first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from control_plane.db import insert_new


class _Base(DeclarativeBase):
    pass


class Item(_Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(10), unique=True)


def test_rows_already_there_are_skipped_and_counted_out(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'items.db'}")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        assert insert_new(session, Item, [{"id": 1, "key": "a"}, {"id": 2, "key": "b"}], [Item.key]) == 2
        assert insert_new(session, Item, [{"id": 3, "key": "b"}, {"id": 4, "key": "c"}], [Item.key]) == 1
        assert session.scalars(sa.select(Item.key).order_by(Item.id)).all() == ["a", "b", "c"]


def test_another_database_is_refused_naming_it():
    session = SimpleNamespace(get_bind=lambda: SimpleNamespace(dialect=SimpleNamespace(name="mysql")))
    with pytest.raises(NotImplementedError, match="the control plane runs on PostgreSQL or SQLite, not mysql"):
        insert_new(session, Item, [{"id": 1, "key": "a"}], [Item.key])  # type: ignore[arg-type]
