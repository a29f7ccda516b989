from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from devtools.local import Terraform, start_control_plane, terraform_available
from provider_shim.launcher import WARM_DIR
from provider_shim.zygote import stop_zygotes


def pytest_collection_modifyitems(items):
    for item in items:
        if "acceptance" in str(item.fspath):
            item.add_marker(pytest.mark.acceptance)


@pytest.fixture(scope="session", autouse=True)
def warm_provider_dir():
    """The provider's warm process (started by the first terraform run) lives in a directory of this run's
    and is stopped at the end. A short path: the sockets inside must fit in 108 bytes."""
    directory = tempfile.mkdtemp(prefix="cw-")
    previous = os.environ.get(WARM_DIR)
    os.environ[WARM_DIR] = directory
    yield directory
    stop_zygotes(directory)
    if previous is None:
        os.environ.pop(WARM_DIR, None)
    else:
        os.environ[WARM_DIR] = previous
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory):
    if not terraform_available():
        pytest.fail("terraform or the provider mirror is missing: run the tests through `make test`")
    # These tests exercise the provider against arbitrary role ARNs; trust checks have tests of their own.
    handle = start_control_plane(tmp_path_factory.mktemp("control-plane"), {"COSTORY_TRUST_VALIDATION": "skip"})
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def tenant_token(control_plane):
    return control_plane.create_tenant("acceptance")


@pytest.fixture
def terraform(tmp_path, control_plane, tenant_token):
    return Terraform(
        tmp_path,
        {"COSTORY_TOKEN": tenant_token, "COSTORY_BASE_URL": f"grpc://{control_plane.address}"},
    )
