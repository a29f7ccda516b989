"""Tenants and their API tokens: create, list, rotate, revoke, and recognise a tenant by its token.

A token is shown once and stored only as its SHA-256 hash. Revoking keeps the hash (with ``revoked_at``), so a
call with a revoked token is told so instead of "invalid"; rotating stores a new hash and clears the revocation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from control_plane.errors import AlreadyExists, InvalidArgument, NotFound, Unauthenticated
from control_plane.identity import assign_identity
from control_plane.models import Tenant, utcnow
from control_plane.settings import Settings
from control_plane.tenants.repository import TenantRepository
from costory_schema.problems import Problem

TOKEN_PREFIX = "cst_"
SERVICE_ACCOUNT_DOMAIN = "costory-selfhosted.iam.gserviceaccount.com"
_ACCOUNT_ID_MAX = 30  # Google service account ids are 6-30 characters.
_INVALID_TOKEN = "invalid or missing API token"


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (REST, gRPC metadata, MCP over HTTP); None for any
    other scheme, none, or an empty token."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_tenant(session: Session, name: str, settings: Settings | None = None) -> tuple[Tenant, str]:
    """Create a tenant; returns it with its API token, which is shown once and stored only as a hash.

    The tenant gets its Google identity (``assign_identity``): from the key pool when ``settings`` name
    one, else generated here."""
    name = name.strip()
    if not name:
        raise InvalidArgument([Problem(("name",), "Empty Value", "`name` must not be empty.")])
    repository = TenantRepository(session)
    if repository.exists(name=name):
        raise AlreadyExists(f"a tenant named {name!r} already exists")
    token = _new_token()
    tenant = Tenant(
        id=f"ten_{uuid.uuid4().hex}",
        name=name,
        token_hash=hash_token(token),
        service_account_email=_unused_service_account_email(repository, name),
    )
    assign_identity(session, tenant, settings)
    repository.add(tenant)
    return tenant, token


@dataclass(frozen=True)
class TenantSummary:
    """What an operator sees of a tenant: never its token, nor its key."""

    id: str
    name: str
    created_at: datetime
    service_account_email: str
    google_subject_id: str
    identity_source: str | None
    """Where the Google key comes from (`EMBEDDED`, `POOL`, `CONFIGURED`); None for a tenant without a key."""
    revoked_at: datetime | None


def list_tenants(session: Session) -> list[TenantSummary]:
    """Every tenant, oldest first."""
    return [
        TenantSummary(
            tenant.id,
            tenant.name,
            as_utc(tenant.created_at),
            tenant.service_account_email,
            tenant.google_subject_id,
            source,
            as_utc(tenant.revoked_at) if tenant.revoked_at else None,
        )
        for tenant, source in TenantRepository(session).all_with_key_source()
    ]


def rotate_token(session: Session, name: str) -> tuple[Tenant, str]:
    """Give the tenant named ``name`` a new API token (returned, shown once): the old one stops working at
    once, and a revoked tenant is usable again."""
    tenant = _by_name(session, name)
    token = _new_token()
    tenant.token_hash = hash_token(token)
    tenant.revoked_at = None
    session.flush()
    return tenant, token


def revoke_token(session: Session, name: str) -> Tenant:
    """Revoke the API token of the tenant named ``name``: every call with it is refused as revoked until
    the token is rotated. Revoking twice keeps the first time."""
    tenant = _by_name(session, name)
    if tenant.revoked_at is None:
        tenant.revoked_at = utcnow()
        session.flush()
    return tenant


def authenticate(session: Session, token: str | None) -> Tenant:
    """The tenant owning ``token``, looked up by the token's hash: no comparison ever runs over the token."""
    tenant = TenantRepository(session).get_by_token_hash(hash_token(token)) if token else None
    if tenant is None:
        raise Unauthenticated(_INVALID_TOKEN)
    if tenant.revoked_at is not None:
        raise Unauthenticated(
            f"this API token was revoked on {as_utc(tenant.revoked_at):%Y-%m-%d %H:%M} UTC; ask the control plane's "
            "operator for a new one (`costory-control-plane tenants rotate-token`)"
        )
    return tenant


class TokenCache:
    """``authenticate``, remembering for ``ttl_seconds`` which tenant a valid token names, so a burst of requests
    with one token costs one lookup. Only valid tokens are remembered (an invalid or revoked one is looked up each
    time), so revoking or rotating a token takes effect in a running process within ``ttl_seconds``."""

    MAX_TOKENS = 10_000
    """Tokens remembered at most; when full, expired entries go, then everything (one lookup per token again)."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._tenants: dict[str, tuple[float, dict[str, object]]] = {}

    def remembered(self, session: Session, token: str | None) -> Tenant | None:
        """The tenant of ``token`` if remembered and fresh, attached to ``session`` without a query; else None."""
        if not token or self.ttl_seconds <= 0:
            return None
        with self._lock:
            remembered = self._tenants.get(hash_token(token))
        if remembered is None or remembered[0] <= self.clock():
            return None
        return _attached(session, remembered[1])

    def authenticate(self, session: Session, token: str | None) -> Tenant:
        """``authenticate``, answered from memory while the token's entry is fresh."""
        tenant = self.remembered(session, token)
        if tenant is not None:
            return tenant
        tenant = authenticate(session, token)
        if self.ttl_seconds <= 0 or not token:
            return tenant
        columns = {attribute.key: getattr(tenant, attribute.key) for attribute in inspect(Tenant).column_attrs}
        now = self.clock()
        with self._lock:
            if len(self._tenants) >= self.MAX_TOKENS:
                self._tenants = {k: v for k, v in self._tenants.items() if v[0] > now}
                if len(self._tenants) >= self.MAX_TOKENS:
                    self._tenants.clear()
            self._tenants[hash_token(token)] = (now + self.ttl_seconds, columns)
        return tenant


def _attached(session: Session, columns: dict[str, object]) -> Tenant:
    """A Tenant in ``session`` as if just loaded (no query): each request gets an instance of its own."""
    tenant = Tenant(**columns)
    make_transient_to_detached(tenant)
    return session.merge(tenant, load=False)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive (they were stored in UTC), PostgreSQL in the session's time zone."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _by_name(session: Session, name: str) -> Tenant:
    tenant = TenantRepository(session).get_by_name(name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}; `costory-control-plane tenants list` shows them")
    return tenant


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _unused_service_account_email(repository: TenantRepository, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "tenant"
    base = f"costory-{slug}"[:_ACCOUNT_ID_MAX].rstrip("-")
    account_id = base
    while repository.exists(service_account_email=f"{account_id}@{SERVICE_ACCOUNT_DOMAIN}"):
        account_id = f"{base[: _ACCOUNT_ID_MAX - 5].rstrip('-')}-{secrets.token_hex(2)}"
    return f"{account_id}@{SERVICE_ACCOUNT_DOMAIN}"
