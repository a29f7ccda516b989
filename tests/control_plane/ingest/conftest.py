"""Ingestion fixtures: the migrated SQLite database comes from tests/control_plane/conftest.py
(``sessions``); here a bucket in moto and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.control_plane.ingest.support import Bucket


@pytest.fixture
def bucket(moto) -> Bucket:
    return Bucket(moto.endpoint)


@pytest.fixture
def clock():
    instant = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    return lambda: instant
