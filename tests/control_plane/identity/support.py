"""Key files for the identity tests."""

from __future__ import annotations

import json
from pathlib import Path

from control_plane.identity import ServiceAccountKey, generate_key
from control_plane.identity.token_endpoint import TrustedKey


def trusted(key: ServiceAccountKey) -> TrustedKey:
    """What a token endpoint needs to know of ``key``."""
    return TrustedKey(key.client_email, key.client_id, key.private_key_id, key.public_key_pem())


def google_key(account: str, client_id: str) -> ServiceAccountKey:
    """A key shaped as Google issues them: another project, Google's token_uri."""
    key = generate_key(f"{account}@customer-project.iam.gserviceaccount.com", client_id)
    return ServiceAccountKey(
        {**key.info, "project_id": "customer-project", "token_uri": "https://oauth2.googleapis.com/token"}
    )


def write_key(directory: Path, name: str, key: ServiceAccountKey) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(key.info))
    return path


def secret_lines(key: ServiceAccountKey) -> list[str]:
    """The base64 lines of the private key: none may show up in any output."""
    return [line for line in key.info["private_key"].splitlines() if not line.startswith("-----")]
