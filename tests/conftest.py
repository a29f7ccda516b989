"""Fixtures shared by every test package: real local services, each stopped when the session ends."""

from __future__ import annotations

import pytest

from control_plane.local import start_moto


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
