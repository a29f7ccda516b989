"""The control plane's configuration: the one place that reads the environment."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from control_plane.db import normalize_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COSTORY_")

    database_url: str = "sqlite:///costory.db"
    """SQLAlchemy URL of the database (env `COSTORY_DATABASE_URL`).

    Defaults to a SQLite file `costory.db` in the working directory. For PostgreSQL use
    `postgresql+psycopg://user:password@host/db`; `postgresql://` and `postgres://` are accepted and
    rewritten to the psycopg driver."""

    grpc_address: str = "127.0.0.1:50051"
    """`host:port` the gRPC server listens on (env `COSTORY_GRPC_ADDRESS`); port 0 picks a free port."""

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        return normalize_url(value)
