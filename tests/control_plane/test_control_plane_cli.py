"""`costory-control-plane` run as a separate process (python -m control_plane)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from costory_proto.costory.v1 import tenant_pb2

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


class TestUsage:
    @pytest.mark.parametrize(
        "args",
        [
            pytest.param((), id="no-command"),
            pytest.param(("tenants",), id="no-subcommand"),
            pytest.param(("tenants", "create"), id="no-name"),
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
        }
        engine.dispose()

    def test_unusable_database_fails_with_one_line(self, tmp_path):
        result = run("migrate", "--database-url", f"sqlite:///{tmp_path}/missing-dir/x.db")

        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
