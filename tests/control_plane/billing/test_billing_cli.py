"""`costory-control-plane billing reimport ID` in a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from control_plane.billing.store import CostStore
from costory_proto.costory.v1 import billing_datasource_pb2 as pb
from devtools.sample_cur import guide_cur, write_cur
from tests.control_plane.billing.test_billing_grpc import BUCKET, aws, create, role_arn, settings  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[3]


def reimport(config, datasource_id: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against ``config``'s database, data directory and S3 endpoint."""
    env = {
        **os.environ,
        "COSTORY_AWS_ENDPOINT_URL": config.aws_endpoint_url,
        "COSTORY_DATA_DIR": str(config.data_dir),
        "COSTORY_TRUST_VALIDATION": "skip",
    }
    command = ["billing", "reimport", datasource_id, "--database-url", config.database_url]
    return subprocess.run(
        [sys.executable, "-m", "control_plane", *command],
        cwd=REPO, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_reimport_replaces_changed_months(settings, sessions, moto, tenant_a, role_arn):  # noqa: F811
    write_cur(aws(moto, "s3"), BUCKET, "cur/", "costory", "2026-11", guide_cur("2026-11"))
    created = create(tenant_a, role_arn=role_arn)

    first = reimport(settings, created.id)
    assert (first.returncode, first.stdout, first.stderr) == (
        0, "SUCCEEDED: 1 files, months replaced: 2026-11, unchanged: none\n", "",
    )  # fmt: skip
    again = reimport(settings, created.id)
    assert (again.returncode, again.stdout) == (0, "SUCCEEDED: 1 files, months replaced: none, unchanged: 2026-11\n")
    with sessions() as session:
        assert CostStore(settings.data_dir).read(session, tenant_a.tenant_id).num_rows == 17
    got = tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id))
    assert (got.status, got.status_message) == ("OK", "0 month(s) imported, 1 unchanged.")


def test_unknown_id_fails_with_one_line(settings, sessions):  # noqa: F811
    result = reimport(settings, "bds_nope")
    expected = (1, "", "error: billing datasource 'bds_nope' not found\n")
    assert (result.returncode, result.stdout, result.stderr) == expected
