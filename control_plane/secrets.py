"""Datasource credentials at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key
from the settings, so the database never holds an API key or a SAS URL in plain text. Only the importer opens
them, to call the source; no API answers with one."""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from control_plane.imports.errors import TerminalImportError
from control_plane.settings import Settings

KEY_FILE = "secret.key"


class SecretBox:
    def __init__(self, key: bytes | str):
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str, attribute: str) -> str:
        """The credential; a TerminalImportError naming ``attribute`` when it was sealed under another key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise TerminalImportError(
                f"The stored `{attribute}` cannot be decrypted with this control plane's COSTORY_SECRET_KEY (the key "
                f"changed, or replicas use different keys). Restore the key, or re-create the datasource with its "
                f"`{attribute}`."
            ) from None


def keyed_digest(settings: Settings, purpose: str, text: str) -> str:
    """HMAC-SHA256 of ``text`` under a key derived from the secret key for ``purpose``: equal texts give equal
    digests (what a unique constraint compares), while the database alone neither reveals nor confirms them."""
    key = settings.secret_key or _key_file(Path(settings.data_dir))
    derived = hashlib.sha256(purpose.encode() + b"\0" + key.encode()).digest()
    return hmac.new(derived, text.encode(), hashlib.sha256).hexdigest()


def new_key() -> str:
    return Fernet.generate_key().decode()


def secret_box(settings: Settings) -> SecretBox:
    """The box for these settings: `secret_key` when set, else a key generated once into the data directory."""
    if settings.secret_key:
        return _box(settings.secret_key)
    return _box(_key_file(Path(settings.data_dir)))


@lru_cache(maxsize=8)
def _box(key: str) -> SecretBox:
    try:
        return SecretBox(key)
    except ValueError:
        raise ValueError(
            "COSTORY_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes); generate one with "
            "`costory-control-plane secrets new-key`"
        ) from None


def _key_file(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key())
    return path.read_text().strip()
