"""Each tenant's Google service-account identity, and the ID tokens obtained with it.

A tenant's identity is one key (``TenantGoogleKey``): its ``client_email`` is the tenant's service
account and its ``client_id`` the one subject id (``sub``) its ID tokens carry, so customers' AWS roles
can trust exactly one tenant. The tenant row mirrors both (unique), so two tenants never share one.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2 import service_account
from sqlalchemy.orm import Session

from control_plane.errors import AlreadyExists, InvalidArgument, NotFound
from control_plane.identity.errors import IdTokenUnavailable, PoolExhausted
from control_plane.identity.keys import (
    KeySource,
    ServiceAccountKey,
    generate_key,
    parse_key,
    random_subject_id,
)
from control_plane.identity.repository import GoogleKeyRepository
from control_plane.identity.token_endpoint import TokenEndpoint, TrustedKey
from control_plane.models import Tenant
from control_plane.settings import Settings
from control_plane.tenants.repository import TenantRepository

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 300
"""A cached ID token is replaced this long before it expires."""
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
"""A JWT (an assertion or a token) that an endpoint might echo in its error: never repeated."""


@dataclass(frozen=True)
class ServiceAccount:
    """What a tenant's AWS roles trust: the service account and its subject ids."""

    email: str
    subject_ids: tuple[str, ...]


def assign_identity(session: Session, tenant: Tenant, settings: Settings | None = None) -> None:
    """Give ``tenant`` (new, with its id and service-account email set) its Google identity.

    With ``settings.google_key_pool_dir`` set, the first unused key file of the pool (sorted by file
    name) is taken and the tenant's email and subject id become the key's; otherwise (and with no
    settings) a key is generated here for the tenant's email, with a fresh 21-digit subject id."""
    repository = GoogleKeyRepository(session)
    pool = settings.google_key_pool_dir if settings is not None else None
    if pool is not None:
        source = KeySource.POOL
        key = _unused_pool_key(repository, pool)
    else:
        source = KeySource.EMBEDDED
        key = generate_key(tenant.service_account_email, _unused_subject_id(repository))
    tenant.service_account_email = key.client_email
    tenant.google_subject_id = key.client_id
    repository.put(tenant.id, key.to_json(), source)


def set_google_key(session: Session, tenant_name: str, key_json: str) -> Tenant:
    """Replace the identity of the tenant named ``tenant_name`` with a real Google key (``CONFIGURED``)."""
    repository = GoogleKeyRepository(session)
    tenant = TenantRepository(session).get_by_name(tenant_name)
    if tenant is None:
        raise NotFound(f"no tenant named {tenant_name!r}")
    key = parse_key(key_json)
    if repository.identity_in_use(key.client_email, key.client_id, except_tenant_id=tenant.id):
        raise AlreadyExists(
            f"service account {key.client_email} (or its client_id) is already another tenant's identity; "
            "each tenant needs a service account of its own"
        )
    tenant.service_account_email = key.client_email
    tenant.google_subject_id = key.client_id
    repository.put(tenant.id, key.to_json(), KeySource.CONFIGURED)
    session.flush()
    return tenant


def get_service_account(session: Session, tenant: Tenant) -> ServiceAccount:
    """The tenant's service account and subject id, read from its key."""
    stored = GoogleKeyRepository(session).get(tenant.id)
    if stored is None:  # a tenant from before keys were stored
        return ServiceAccount(tenant.service_account_email, (tenant.google_subject_id,))
    key = ServiceAccountKey(json.loads(stored.key_json))
    return ServiceAccount(key.client_email, (key.client_id,))


class GoogleIdentity:
    """Obtains Google ID tokens for tenants through google-auth (``IDTokenCredentials``).

    Embedded keys get theirs from a loopback token endpoint this object starts the first time one is
    needed (unless ``settings.google_token_uri`` is set); ``close()`` stops it. Tokens are cached per
    tenant, key and audience until five minutes before they expire. Thread-safe."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._embedded_keys: dict[str, TrustedKey] = {}
        self._endpoint: TokenEndpoint | None = None
        self._request = google.auth.transport.requests.Request()

    @property
    def endpoint(self) -> TokenEndpoint | None:
        """The loopback token endpoint, once started."""
        return self._endpoint

    def id_token(self, session: Session, tenant_id: str, audience: str | None = None) -> str:
        """A Google ID token for the tenant, for ``audience`` (default ``settings.id_token_audience``)."""
        audience = audience or self.settings.id_token_audience
        stored = GoogleKeyRepository(session).get(tenant_id)
        if stored is None:
            raise IdTokenUnavailable(
                f"tenant {tenant_id} has no Google key; "
                "set one with `costory-control-plane tenants set-google-key`"
            )
        key = ServiceAccountKey(json.loads(stored.key_json))
        cache_key = (tenant_id, key.private_key_id or key.client_email, audience)
        with self._lock:
            cached = self._tokens.get(cache_key)
        if cached is not None and cached[1] - REFRESH_MARGIN_SECONDS > self._clock():
            return cached[0]

        token_uri = self._token_uri(key, KeySource(stored.source))
        credentials = service_account.IDTokenCredentials.from_service_account_info(
            key.info, target_audience=audience
        ).with_token_uri(token_uri)
        try:
            credentials.refresh(self._request)
        except google.auth.exceptions.GoogleAuthError as error:
            raise IdTokenUnavailable(
                _refresh_failure(key, KeySource(stored.source), token_uri, error)
            ) from None
        expiry = credentials.expiry.replace(tzinfo=UTC).timestamp()
        with self._lock:
            self._tokens[cache_key] = (credentials.token, expiry)
        return credentials.token

    def access_credentials(
        self, session: Session, tenant_id: str, scopes: tuple[str, ...]
    ) -> service_account.Credentials:
        """OAuth credentials of the tenant's service account for Google APIs (BigQuery reads the customer's
        billing export as this identity); google-auth fetches and refreshes the access token itself."""
        stored = GoogleKeyRepository(session).get(tenant_id)
        if stored is None:
            raise IdTokenUnavailable(
                f"tenant {tenant_id} has no Google key; set one with `costory-control-plane tenants set-google-key`"
            )
        key = ServiceAccountKey(json.loads(stored.key_json))
        return service_account.Credentials.from_service_account_info(key.info, scopes=list(scopes)).with_token_uri(
            self._token_uri(key, KeySource(stored.source))
        )

    def subject_ids(self, session: Session, tenant_id: str) -> list[str]:
        """The subject ids (``sub``) of the tenant's ID tokens."""
        tenant = GoogleKeyRepository(session).tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id}")
        return list(get_service_account(session, tenant).subject_ids)

    def close(self) -> None:
        """Stop the loopback token endpoint if it was started."""
        with self._lock:
            endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            endpoint.stop()
        self._request.session.close()

    def _token_uri(self, key: ServiceAccountKey, source: KeySource) -> str:
        if self.settings.google_token_uri:
            return self.settings.google_token_uri
        if source is not KeySource.EMBEDDED:
            return key.token_uri or "https://oauth2.googleapis.com/token"
        with self._lock:
            known = self._embedded_keys.get(key.client_email)
            if known is None or known.key_id != key.private_key_id:
                self._embedded_keys[key.client_email] = TrustedKey(
                    key.client_email, key.client_id, key.private_key_id, key.public_key_pem()
                )
            if self._endpoint is None:
                self._endpoint = TokenEndpoint(self._embedded_keys.get)
                self._endpoint.start()
            return self._endpoint.token_uri


def _unused_subject_id(repository: GoogleKeyRepository) -> str:
    while True:
        subject_id = random_subject_id()
        if not repository.subject_id_exists(subject_id):
            return subject_id


def _unused_pool_key(repository: GoogleKeyRepository, pool: Path) -> ServiceAccountKey:
    if not pool.is_dir():
        raise PoolExhausted(
            f"the Google key pool {pool} is not a directory; check COSTORY_GOOGLE_KEY_POOL_DIR"
        )
    files = sorted(pool.glob("*.json"))
    for path in files:
        try:
            key = parse_key(path.read_text())
        except (OSError, UnicodeDecodeError):
            log.warning("skipping %s in the Google key pool: not readable", path.name)
            continue
        except InvalidArgument as invalid:
            log.warning("skipping %s in the Google key pool: %s", path.name, invalid)
            continue
        if not repository.identity_in_use(key.client_email, key.client_id):
            return key
    raise PoolExhausted(
        f"the Google key pool {pool} has no unused key ({len(files)} key files, all assigned to tenants); "
        "add a service-account key file for each new tenant"
    )


def _refresh_failure(
    key: ServiceAccountKey, source: KeySource, token_uri: str, error: google.auth.exceptions.GoogleAuthError
) -> str:
    if isinstance(error, google.auth.exceptions.TransportError):
        reason = f"the token endpoint {token_uri} could not be reached"
    else:
        raw = str(error.args[0]) if error.args else type(error).__name__
        first_line = (raw.splitlines() or [""])[0]
        reason = _JWT.sub("<redacted>", first_line)[:300]
    if source is KeySource.EMBEDDED:
        remedy = "the key was generated by the control plane; check its logs and COSTORY_GOOGLE_TOKEN_URI"
    else:
        remedy = (
            "check that the key is still valid in Google Cloud (not deleted or disabled), "
            "or set a new one with `costory-control-plane tenants set-google-key`"
        )
    return f"could not obtain a Google ID token for service account {key.client_email} ({reason}); {remedy}"
