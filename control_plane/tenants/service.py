"""Creating tenants and recognising them by their API token."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from sqlalchemy.orm import Session

from control_plane.errors import AlreadyExists, InvalidArgument, Unauthenticated
from control_plane.identity import assign_identity
from control_plane.models import Tenant
from control_plane.settings import Settings
from control_plane.tenants.repository import TenantRepository
from costory_schema.rules import Violation

TOKEN_PREFIX = "cst_"
SERVICE_ACCOUNT_DOMAIN = "costory-selfhosted.iam.gserviceaccount.com"
_ACCOUNT_ID_MAX = 30  # Google service account ids are 6-30 characters.
_INVALID_TOKEN = "invalid or missing API token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_tenant(session: Session, name: str, settings: Settings | None = None) -> tuple[Tenant, str]:
    """Create a tenant; returns it with its API token, which is shown once and stored only as a hash.

    The tenant gets its Google identity (``assign_identity``): from the key pool when ``settings`` name
    one, else generated here."""
    name = name.strip()
    if not name:
        raise InvalidArgument([Violation(("name",), "Empty Value", "`name` must not be empty.")])
    repository = TenantRepository(session)
    if repository.exists(name=name):
        raise AlreadyExists(f"a tenant named {name!r} already exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tenant = Tenant(
        id=f"ten_{uuid.uuid4().hex}",
        name=name,
        token_hash=hash_token(token),
        service_account_email=_unused_service_account_email(repository, name),
    )
    assign_identity(session, tenant, settings)
    repository.add(tenant)
    return tenant, token


def authenticate(session: Session, token: str | None) -> Tenant:
    """The tenant owning ``token``, looked up by the token's hash: no comparison ever runs over the token."""
    tenant = TenantRepository(session).get_by_token_hash(hash_token(token)) if token else None
    if tenant is None:
        raise Unauthenticated(_INVALID_TOKEN)
    return tenant


def _unused_service_account_email(repository: TenantRepository, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "tenant"
    base = f"costory-{slug}"[:_ACCOUNT_ID_MAX].rstrip("-")
    account_id = base
    while repository.exists(service_account_email=f"{account_id}@{SERVICE_ACCOUNT_DOMAIN}"):
        account_id = f"{base[: _ACCOUNT_ID_MAX - 5].rstrip('-')}-{secrets.token_hex(2)}"
    return f"{account_id}@{SERVICE_ACCOUNT_DOMAIN}"
