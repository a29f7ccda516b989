"""Fixtures shared by every test package: real local services, each stopped when the session ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from control_plane.db import migrate
from devtools.local import start_moto
from tests.pg_cluster import PostgresCluster, PostgresUnavailable, start_postgres


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """moto (S3/IAM/STS emulator) on a loopback port, for the whole test session."""
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server):
    """The emulator, emptied before the test."""
    moto_server.reset()
    return moto_server


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[PostgresCluster]:
    """A real PostgreSQL server from the machine's binaries, on loopback, for the whole session (never
    skipped: without the binaries the tests fail and say why)."""
    try:
        cluster = start_postgres(tmp_path_factory.mktemp("postgres"))
    except PostgresUnavailable as error:
        pytest.fail(f"PostgreSQL is required for these tests: {error}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh, migrated database on the session's PostgreSQL server."""
    url = postgres.create_database(f"test_{uuid.uuid4().hex[:12]}")
    migrate(url)
    return url
