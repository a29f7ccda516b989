from __future__ import annotations

import pytest

from devtools.local import Terraform, start_control_plane, terraform_available


def pytest_collection_modifyitems(items):
    for item in items:
        if "acceptance" in str(item.fspath):
            item.add_marker(pytest.mark.acceptance)


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
