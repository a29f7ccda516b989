"""Datasource credentials at rest: sealed under the settings' key (or one generated once into the data
directory), opened only with that key; a key that changed fails the import naming the attribute, never the
secret."""

from __future__ import annotations

import stat

import pytest

from control_plane.cli import main
from control_plane.imports.errors import TerminalImportError
from control_plane.secrets import KEY_FILE, SecretBox, secret_box
from control_plane.settings import Settings

SECRET = "sk-ant-admin01-not-in-the-database"


def test_new_key_prints_a_key_that_seals_and_opens(capsys):
    assert main(["secrets", "new-key"]) == 0
    key = capsys.readouterr().out.strip()
    box = SecretBox(key)
    sealed = box.seal(SECRET)
    assert SECRET not in sealed and sealed != box.seal(SECRET)  # a fresh IV each time
    assert box.open(sealed, "admin_api_key") == SECRET


def test_another_key_cannot_open_it_and_says_what_to_do():
    sealed = SecretBox(_key()).seal(SECRET)
    with pytest.raises(TerminalImportError) as refused:
        SecretBox(_key()).open(sealed, "admin_api_key")
    assert refused.value.message == (
        "The stored `admin_api_key` cannot be decrypted with this control plane's COSTORY_SECRET_KEY (the key "
        "changed, or replicas use different keys). Restore the key, or re-create the datasource with its "
        "`admin_api_key`."
    )


def test_without_a_configured_key_one_is_generated_once_readable_only_by_the_owner(tmp_path):
    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    sealed = secret_box(settings).seal(SECRET)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    assert secret_box(again).open(sealed, "api_key") == SECRET


def test_a_malformed_configured_key_names_the_setting(tmp_path):
    with pytest.raises(ValueError, match="COSTORY_SECRET_KEY is not a Fernet key"):
        secret_box(Settings(database_url="sqlite://", data_dir=tmp_path, secret_key="not-a-key"))


def _key() -> str:
    from control_plane.secrets import new_key

    return new_key()
