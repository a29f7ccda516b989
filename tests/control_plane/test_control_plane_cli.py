"""`costory-control-plane` run as a separate process (python -m control_plane)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from control_plane.cli import main
from control_plane.models import Base
from costory_proto.costory.v1 import tenant_pb2
from tests.control_plane.identity.support import google_key, secret_lines, write_key

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "control_plane", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def database_file(settings) -> Path:
    return Path(make_url(settings.database_url).database)


class TestTenantsCreate:
    def test_prints_only_a_token_that_authenticates(self, settings, connect):
        result = run("tenants", "create", "Acme", "--database-url", settings.database_url)

        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cst_")
        token = lines[0]
        assert token not in result.stderr
        _, tenants = connect((("authorization", f"Bearer {token}"),))
        assert tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_name == "Acme"

    def test_database_holds_the_hash_not_the_token(self, settings):
        token = run("tenants", "create", "Acme", "--database-url", settings.database_url).stdout.strip()

        contents = Path(make_url(settings.database_url).database).read_bytes()
        assert token.startswith("cst_")
        assert token.encode() not in contents
        assert hashlib.sha256(token.encode()).hexdigest().encode() in contents

    def test_says_which_database_it_wrote_to_and_that_the_file_is_new(self, settings):
        result = run("tenants", "create", "Acme", "--database-url", settings.database_url)

        path = database_file(settings).resolve()
        first, note = result.stderr.splitlines()
        assert re.fullmatch(
            rf"created tenant 'Acme' \(ten_[0-9a-f]{{32}}\) in sqlite:///{re.escape(str(path))}; "
            "the token above is shown only once",
            first,
        )
        assert note == (
            f"note: sqlite:///{path} did not exist and was created now; a control plane serving another database "
            "rejects this token: pass the database it serves with --database-url (or set COSTORY_DATABASE_URL)"
        )

    def test_an_existing_database_gets_no_note(self, settings, sessions):
        result = run("tenants", "create", "Acme", "--database-url", settings.database_url)

        assert result.returncode == 0, result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert f" in sqlite:///{database_file(settings).resolve()}; " in result.stderr

    def test_duplicate_name_fails_with_one_line(self, settings):
        run("tenants", "create", "Acme", "--database-url", settings.database_url)

        result = run("tenants", "create", "Acme", "--database-url", settings.database_url)

        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == "error: a tenant named 'Acme' already exists\n"


class TestTenantsList:
    def test_lists_name_id_created_identity_and_token_state_never_a_token(self, settings, sessions):
        token = run("tenants", "create", "Acme", "--database-url", settings.database_url).stdout.strip()
        run("tenants", "create", "Beta", "--database-url", settings.database_url)
        run("tenants", "revoke", "Beta", "--database-url", settings.database_url)
        with sessions() as session:
            rows = session.execute(
                sa.text("SELECT name, id, service_account_email, google_subject_id FROM tenants ORDER BY created_at")
            ).all()

        result = run("tenants", "list", "--database-url", settings.database_url)

        assert (result.returncode, result.stderr) == (0, ""), result.stderr
        header, *lines = result.stdout.splitlines()
        assert header.split() == ["NAME", "ID", "CREATED", "SERVICE", "ACCOUNT", "SUB", "KEY", "TOKEN"]
        assert [line.split()[:2] + line.split()[3:6] for line in lines] == [
            [name, tenant_id, email, sub, "EMBEDDED"] for name, tenant_id, email, sub in rows
        ]
        assert [line.split()[6:7] for line in lines] == [["valid"], ["revoked"]]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line.split()[2]) for line in lines)
        assert token not in result.stdout and "cst_" not in result.stdout

    def test_empty_database(self, settings, sessions):
        result = run("tenants", "list", "--database-url", settings.database_url)

        assert (result.returncode, result.stdout) == (0, "")
        assert result.stderr == f"no tenants in sqlite:///{database_file(settings).resolve()}\n"

    @pytest.mark.parametrize(
        "args",
        [("list",), ("rotate-token", "Acme"), ("revoke", "Acme"), ("set-google-key", "Acme", "--key-file", "{key}")],
        ids=["list", "rotate-token", "revoke", "set-google-key"],
    )
    def test_a_missing_sqlite_file_is_named_and_not_created(self, tmp_path, args):
        path = tmp_path / "stray.db"
        key = write_key(tmp_path, "key.json", google_key("acme-prod", "555555555555555555555"))

        result = run("tenants", *(arg.format(key=key) for arg in args), "--database-url", f"sqlite:///{path}")

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == (
            f"error: sqlite:///{path} does not exist; pass the database your control plane serves with "
            "--database-url (or set COSTORY_DATABASE_URL)\n"
        )
        assert not path.exists()


class TestTenantsRotateToken:
    def test_prints_a_new_token_and_the_old_one_stops_working(self, settings, connect):
        old = run("tenants", "create", "Acme", "--database-url", settings.database_url).stdout.strip()

        result = run("tenants", "rotate-token", "Acme", "--database-url", settings.database_url)

        assert result.returncode == 0, result.stderr
        (new,) = result.stdout.splitlines()
        assert new.startswith("cst_") and new != old and new not in result.stderr
        assert re.fullmatch(
            rf"new API token for tenant 'Acme' \(ten_[0-9a-f]{{32}}\) in sqlite:///"
            rf"{re.escape(str(database_file(settings).resolve()))}; the previous token no longer works; "
            r"the token above is shown only once\n",
            result.stderr,
        )
        _, tenants = connect((("authorization", f"Bearer {new}"),))
        assert tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_name == "Acme"
        _, stale = connect((("authorization", f"Bearer {old}"),))
        with pytest.raises(grpc.RpcError) as caught:
            stale.WhoAmI(tenant_pb2.WhoAmIRequest())
        assert (caught.value.code(), caught.value.details()) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid or missing API token",
        )

    def test_unknown_tenant(self, settings, sessions):
        result = run("tenants", "rotate-token", "Nobody", "--database-url", settings.database_url)

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == "error: no tenant named 'Nobody'; `costory-control-plane tenants list` shows them\n"


class TestTenantsRevoke:
    def test_calls_with_the_token_are_refused_as_revoked_until_rotated(self, settings, connect):
        token = run("tenants", "create", "Acme", "--database-url", settings.database_url).stdout.strip()

        result = run("tenants", "revoke", "Acme", "--database-url", settings.database_url)

        assert (result.returncode, result.stdout) == (0, ""), result.stderr
        assert re.fullmatch(
            rf"revoked the API token of tenant 'Acme' \(ten_[0-9a-f]{{32}}\) in sqlite:///"
            rf"{re.escape(str(database_file(settings).resolve()))}: every call with it is refused; "
            r"`costory-control-plane tenants rotate-token Acme` issues a new one\n",
            result.stderr,
        )
        _, tenants = connect((("authorization", f"Bearer {token}"),))
        with pytest.raises(grpc.RpcError) as caught:
            tenants.WhoAmI(tenant_pb2.WhoAmIRequest())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert re.fullmatch(
            r"this API token was revoked on \d{4}-\d\d-\d\d \d\d:\d\d UTC; ask the control plane's operator "
            r"for a new one \(`costory-control-plane tenants rotate-token`\)",
            caught.value.details(),
        )

        new = run("tenants", "rotate-token", "Acme", "--database-url", settings.database_url).stdout.strip()
        _, tenants = connect((("authorization", f"Bearer {new}"),))
        assert tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_name == "Acme"


class TestDatabaseLocks:
    """A lock held by another process (a server's write transaction) makes a command fail, bounded and
    naming the database, instead of hanging."""

    def test_sqlite_write_lock(self, settings, sessions):
        holder = sqlite3.connect(database_file(settings), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            result = run(
                "tenants", "create", "Acme", "--database-url", settings.database_url,
                env={"COSTORY_DATABASE_LOCK_TIMEOUT_SECONDS": "1"},
            )  # fmt: skip
            elapsed = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == (
            f"error: the database sqlite:///{database_file(settings).resolve()} stayed locked for 1 s: another "
            "process (a running `serve`, an import or a migration) holds a write lock; retry when it is done, or "
            "wait longer with COSTORY_DATABASE_LOCK_TIMEOUT_SECONDS\n"
        )
        assert elapsed < 30
        assert run("tenants", "create", "Acme", "--database-url", settings.database_url).returncode == 0

    def test_postgresql_lock_and_the_password_is_masked(self, postgres_url):
        url = make_url(postgres_url)
        shown = url.set(password="[redacted]").render_as_string(hide_password=False) if url.password else postgres_url
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as holder:
            holder.execute("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
            result = run(
                "tenants", "create", "Acme", "--database-url", postgres_url,
                env={"COSTORY_DATABASE_LOCK_TIMEOUT_SECONDS": "1"},
            )  # fmt: skip
            holder.rollback()

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.startswith(f"error: the database {shown} stayed locked for 1 s: another process")

    def test_a_database_password_never_reaches_the_output(self):
        result = run("tenants", "list", "--database-url", "postgresql://costory:hunter2-secret@127.0.0.1:1/costory")

        assert result.returncode == 1
        assert result.stderr.startswith(
            "error: the database postgresql+psycopg://costory:[redacted]@127.0.0.1:1/costory failed: "
        )
        assert "hunter2" not in result.stderr + result.stdout


def set_google_key(settings, name: str, key_file: Path) -> subprocess.CompletedProcess[str]:
    database = ("--database-url", settings.database_url)
    return run("tenants", "set-google-key", name, "--key-file", str(key_file), *database)


class TestTenantsSetGoogleKey:
    def test_replaces_the_identity_without_printing_the_key(self, settings, connect, tmp_path):
        token = run("tenants", "create", "Acme", "--database-url", settings.database_url).stdout.strip()
        key = google_key("acme-prod", "555555555555555555555")
        path = write_key(tmp_path / "keys", "acme-prod.json", key)

        result = set_google_key(settings, "Acme", path)

        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr == (
            "tenant 'Acme' now uses Google service account "
            "acme-prod@customer-project.iam.gserviceaccount.com (sub 555555555555555555555)\n"
        )
        for line in secret_lines(key):
            assert line not in result.stderr
        _, tenants = connect((("authorization", f"Bearer {token}"),))
        account = tenants.GetServiceAccount(tenant_pb2.GetServiceAccountRequest())
        assert account.service_account == "acme-prod@customer-project.iam.gserviceaccount.com"
        assert list(account.sub_ids) == ["555555555555555555555"]

    def test_invalid_key_file_fails_with_one_line_and_no_key(self, settings, tmp_path):
        run("tenants", "create", "Acme", "--database-url", settings.database_url)
        key = google_key("acme-prod", "555555555555555555555")
        path = tmp_path / "key.json"
        path.write_text(json.dumps({**key.info, "type": "authorized_user"}))

        result = set_google_key(settings, "Acme", path)

        assert result.returncode == 1
        assert result.stderr == (
            'error: key_file: The key file must be a service account key (`"type": "service_account"`).\n'
        )
        for line in secret_lines(key):
            assert line not in result.stdout + result.stderr

    @pytest.mark.parametrize(
        ("tenant", "key_file", "message"),
        [
            pytest.param(
                "Acme", "missing.json", "cannot read key file {path}: No such file or directory", id="no-file"
            ),
            pytest.param("Nobody", "key.json", "no tenant named 'Nobody'", id="unknown-tenant"),
        ],
    )
    def test_operator_mistakes(self, settings, tmp_path, tenant, key_file, message):
        run("tenants", "create", "Acme", "--database-url", settings.database_url)
        write_key(tmp_path, "key.json", google_key("acme-prod", "555555555555555555555"))
        path = tmp_path / key_file

        result = set_google_key(settings, tenant, path)

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == f"error: {message.format(path=path)}\n"


class TestUsage:
    @pytest.mark.parametrize(
        "args",
        [
            pytest.param((), id="no-command"),
            pytest.param(("tenants",), id="no-subcommand"),
            pytest.param(("tenants", "create"), id="no-name"),
            pytest.param(("tenants", "set-google-key", "Acme"), id="no-key-file"),
        ],
    )
    def test_usage_errors_exit_2(self, args):
        assert run(*args).returncode == 2


class TestMigrate:
    def test_creates_the_schema(self, settings):
        result = run("migrate", "--database-url", settings.database_url)

        assert result.returncode == 0, result.stderr
        engine = sa.create_engine(settings.database_url)
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version", *Base.metadata.tables}
        engine.dispose()

    def test_unusable_database_fails_with_one_line(self, tmp_path):
        result = run("migrate", "--database-url", f"sqlite:///{tmp_path}/missing-dir/x.db")

        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


class TestLogs:
    def test_every_command_runs_with_secrets_redacted_from_its_logs(self, monkeypatch, caplog, settings):
        token = "cst_" + "x" * 43

        def serve(_settings):
            logging.getLogger("control_plane.server").warning("client sent Authorization: Bearer %s", token)

        monkeypatch.setattr("control_plane.server.serve", serve)
        before = logging.getLogRecordFactory()  # the default, or one a library installed (Ray's, once imported)
        with caplog.at_level(logging.DEBUG):
            assert main(["serve", "--database-url", settings.database_url]) == 0

        assert [r.getMessage() for r in caplog.records] == ["client sent Authorization: [redacted]"]
        assert logging.getLogRecordFactory() is before  # undone when the command returns

    def test_log_level_comes_from_the_environment(self, tmp_path):
        result = run(
            "tenants", "create", "Acme", "--database-url", f"sqlite:///{tmp_path / 'c.db'}",
            env={"COSTORY_LOG_LEVEL": "info"},
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        assert "INFO alembic.runtime.migration: Running upgrade  -> 0001" in result.stderr
        assert result.stdout.strip() not in result.stderr

    def test_an_unknown_log_level_is_one_error_line(self, tmp_path):
        result = run(
            "tenants", "list", "--database-url", f"sqlite:///{tmp_path / 'c.db'}", env={"COSTORY_LOG_LEVEL": "LOUD"}
        )

        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == (
            "error: log_level (env COSTORY_LOG_LEVEL): Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'\n"
        )


def test_a_data_url_that_is_not_s3_is_refused_naming_the_setting(settings):
    result = run("serve", "--database-url", settings.database_url, env={"COSTORY_DATA_URL": "gs://bucket/costs"})

    assert result.returncode == 1
    assert result.stderr == (
        "error: data_url (env COSTORY_DATA_URL): Value error, must look like s3://bucket/prefix (S3 or an "
        "S3-compatible store), or be unset\n"
    )
