"""Scheduler fixtures: a migrated SQLite database per test, a controllable clock, worker processes, and
the PostgreSQL server of tests/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.settings import Settings
from tests.control_plane.scheduler.support import REPO, WORKER, Clock, at


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        schedule_hour_utc=6,
        lease_seconds=600,
        import_retry_attempts=3,
        import_retry_base_seconds=60,
        scheduler_poll_seconds=0.01,
    )


@pytest.fixture
def sessions(settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    yield create_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-01-05 07:00"))


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """``spawn(*args)`` starts ``worker.py ARGS``; every worker still running at the end is killed."""
    processes: list[subprocess.Popen] = []

    def _spawn(*args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    try:
        yield _spawn
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
