"""Watching the database pool from a test: reads take what they need from the database, give the connection
back (control_plane.db.release), then do their columnar work, so slow reads never hold the pool."""

from __future__ import annotations

from types import ModuleType

import pytest
import sqlalchemy as sa


def checked_out_when_called(
    monkeypatch: pytest.MonkeyPatch, engine: sa.Engine, module: ModuleType, name: str
) -> list[int]:
    """Record how many pool connections are checked out each time ``module.name`` is called."""
    seen: list[int] = []
    real = getattr(module, name)

    def watching(*args, **kwargs):
        seen.append(engine.pool.checkedout())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, watching)
    return seen
