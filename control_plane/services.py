"""What the API layers (gRPC, REST, CLI, scheduler) share, built once per process from the settings."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.identity import GoogleIdentity
from control_plane.settings import Settings
from control_plane.trust.access import RoleAccess


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
