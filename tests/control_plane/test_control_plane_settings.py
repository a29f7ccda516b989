from __future__ import annotations

import pytest

from control_plane.settings import Settings


def test_defaults(monkeypatch):
    monkeypatch.delenv("COSTORY_DATABASE_URL", raising=False)
    monkeypatch.delenv("COSTORY_GRPC_ADDRESS", raising=False)

    settings = Settings()

    assert (settings.database_url, settings.grpc_address) == ("sqlite:///costory.db", "127.0.0.1:50051")


def test_reads_costory_prefixed_environment(monkeypatch):
    monkeypatch.setenv("COSTORY_DATABASE_URL", "sqlite:////tmp/other.db")
    monkeypatch.setenv("COSTORY_GRPC_ADDRESS", "0.0.0.0:6000")

    assert (Settings().database_url, Settings().grpc_address) == ("sqlite:////tmp/other.db", "0.0.0.0:6000")


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("postgresql://u:p@db/costory", "postgresql+psycopg://u:p@db/costory"),
        ("postgres://u:p@db/costory", "postgresql+psycopg://u:p@db/costory"),
        ("postgresql+psycopg://u:p@db/costory", "postgresql+psycopg://u:p@db/costory"),
        ("sqlite:///costory.db", "sqlite:///costory.db"),
    ],
)
def test_postgres_urls_use_psycopg(url, normalized):
    assert Settings(database_url=url).database_url == normalized
