"""Every example shown in docs/ (examples/terraform/reference/) is valid HCL for the provider's schema."""

from __future__ import annotations

import json
import shutil

from devtools.local import REPO

REFERENCE = REPO / "examples" / "terraform" / "reference"


def test_reference_examples_validate(terraform):
    for example in sorted(REFERENCE.glob("*.tf")):
        shutil.copy(example, terraform.workdir / example.name)
    terraform.write(
        'terraform {\n  required_providers {\n    costory = { source = "costory-io/costory" }\n  }\n}\n', "versions.tf"
    )
    terraform.init()
    result = json.loads(terraform.run("validate", "-json").stdout)
    assert (result["valid"], result["error_count"], result["warning_count"]) == (True, 0, 0)
