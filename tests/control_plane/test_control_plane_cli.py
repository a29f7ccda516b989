"""`costory-control-plane` run as a separate process (python -m control_plane)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from costory_proto.costory.v1 import tenant_pb2
from tests.control_plane.identity.support import google_key, secret_lines, write_key

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "control_plane", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


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

    def test_duplicate_name_fails_with_one_line(self, settings):
        run("tenants", "create", "Acme", "--database-url", settings.database_url)

        result = run("tenants", "create", "Acme", "--database-url", settings.database_url)

        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == "error: a tenant named 'Acme' already exists\n"


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
        assert set(sa.inspect(engine).get_table_names()) == {
            "alembic_version",
            "tenants",
            "tenant_google_keys",
            "metrics_datasources",
            "metric_definitions",
            "metric_imports",
            "metric_files",
            "metric_days",
            "metric_values",
            "import_runs",
            "billing_datasources",
            "billing_periods",
            "billing_files",
            "virtual_dimensions",
        }
        engine.dispose()

    def test_unusable_database_fails_with_one_line(self, tmp_path):
        result = run("migrate", "--database-url", f"sqlite:///{tmp_path}/missing-dir/x.db")

        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
