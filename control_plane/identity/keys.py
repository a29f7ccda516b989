"""Google service-account key files: generating one here, and reading one an operator supplies.

A key file is the JSON Google hands out for a service account. Its ``client_id`` is the numeric subject
id (``sub``) of the ID tokens obtained with it, and its ``client_email`` the service account."""

from __future__ import annotations

import json
import secrets
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from control_plane.errors import InvalidArgument
from costory_schema.problems import Problem

PROJECT_ID = "costory-selfhosted"
EMBEDDED_TOKEN_URI = "urn:costory:loopback-token-endpoint"
"""The ``token_uri`` written into generated keys: a placeholder, replaced at use time by the control
plane's loopback endpoint (or ``settings.google_token_uri``)."""

_SUBJECT_ID_DIGITS = 21
_REQUIRED = ("client_email", "client_id", "private_key")


class KeySource(StrEnum):
    EMBEDDED = "EMBEDDED"
    """Generated here; ID tokens come from the control plane's loopback token endpoint."""
    CONFIGURED = "CONFIGURED"
    """A real Google key set by an operator (`tenants set-google-key`)."""
    POOL = "POOL"
    """A real Google key taken from `google_key_pool_dir` when the tenant was created."""


@dataclass(frozen=True, repr=False)
class ServiceAccountKey:
    """A parsed key file. ``repr`` leaves the private key out."""

    info: dict[str, Any]

    @property
    def client_email(self) -> str:
        return self.info["client_email"]

    @property
    def client_id(self) -> str:
        return self.info["client_id"]

    @property
    def private_key_id(self) -> str | None:
        return self.info.get("private_key_id")

    @property
    def token_uri(self) -> str | None:
        return self.info.get("token_uri")

    def public_key_pem(self) -> str:
        private_key = serialization.load_pem_private_key(self.info["private_key"].encode(), password=None)
        return (
            private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def to_json(self) -> str:
        return json.dumps(self.info, indent=2)

    def __repr__(self) -> str:
        return f"ServiceAccountKey(client_email={self.client_email!r}, client_id={self.client_id!r})"


def random_subject_id() -> str:
    """A 21-digit numeric id, the shape of a Google service account's ``client_id``."""
    return str(10 ** (_SUBJECT_ID_DIGITS - 1) + secrets.randbelow(9 * 10 ** (_SUBJECT_ID_DIGITS - 1)))


def generate_key(client_email: str, client_id: str) -> ServiceAccountKey:
    """A fresh RSA-2048 key in Google's key-file shape, for the embedded identity."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return ServiceAccountKey(
        {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": client_email,
            "client_id": client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": EMBEDDED_TOKEN_URI,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + urllib.parse.quote(client_email),
            "universe_domain": "googleapis.com",
        }
    )


def parse_key(text: str, field: str = "key_file") -> ServiceAccountKey:
    """Read and check a service-account key file; problems are reported on ``field``, without the key."""

    def invalid(detail: str) -> InvalidArgument:
        return InvalidArgument([Problem((field,), "Invalid Key File", detail)])

    try:
        info = json.loads(text)
    except ValueError:
        raise invalid(
            "The key file is not JSON; use the key file Google created for the service account."
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise invalid('The key file must be a service account key (`"type": "service_account"`).')
    missing = [name for name in _REQUIRED if not isinstance(info.get(name), str) or not info[name]]
    if missing:
        raise invalid(f"The key file has no {', '.join(missing)}.")
    if not info["client_id"].isdigit() or len(info["client_id"]) > _SUBJECT_ID_DIGITS:
        raise invalid(
            f"`client_id` must be the service account's numeric id (at most {_SUBJECT_ID_DIGITS} digits)."
        )
    try:
        private_key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        private_key = None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise invalid("`private_key` is not an unencrypted PEM RSA private key.")
    return ServiceAccountKey(info)
