"""What the API layers (gRPC, REST, CLI, scheduler) share, built once per process from the settings."""

from __future__ import annotations

import functools
import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from control_plane.datastore import open_store
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.identity import GoogleIdentity
from control_plane.settings import Settings
from control_plane.trust.access import RoleAccess

if TYPE_CHECKING:
    from control_plane.dimensions.compute import Engine


@dataclass
class Services:
    settings: Settings
    sessions: sessionmaker[Session]
    identity: GoogleIdentity
    access: RoleAccess
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    """Names this process in import history and run leases."""

    @property
    def enforced_access(self) -> RoleAccess | None:
        """The role checks to run before saving a datasource (none when trust validation is skipped)."""
        return self.access if self.settings.trust_validation == "enforce" else None

    @functools.cached_property
    def engine(self) -> Engine:
        """Where allocations are computed and kept: the data store of `data_url` / `data_dir`, and the local
        engine or, with `engine = "ray"`, Ray tasks on the cluster at `ray_address`."""
        from control_plane.dimensions.compute import Engine, PartRunner, run_here

        runner: PartRunner = run_here
        if self.settings.engine == "ray":
            from control_plane.dimensions.distributed import ray_runner

            runner = ray_runner(self.settings.ray_address)
        return Engine(open_store(self.settings), runner)

    def close(self) -> None:
        self.identity.close()
        engine = self.sessions.kw.get("bind")
        if engine is not None:
            engine.dispose()


def build_services(settings: Settings) -> Services:
    """Migrate the database and wire the shared services."""
    migrate(settings.database_url)
    engine = create_engine(
        settings.database_url,
        pool_size=settings.max_requests_in_flight,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    sessions = create_sessionmaker(engine)
    identity = GoogleIdentity(settings)
    return Services(settings, sessions, identity, RoleAccess(settings, identity))
