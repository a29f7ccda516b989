"""`make demo`: the whole loop on embedded defaults, then everything stopped.

1. start a control plane on a fresh SQLite file, on a free loopback port;
2. create a tenant and take its token;
3. `terraform init` + `apply` examples/terraform/quickstart with our provider;
4. show what the control plane now holds, then a no-change plan;
5. destroy, stop the control plane, remove the temporary directory.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from control_plane.local import REPO, Terraform, start_control_plane, terraform_available
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_proto.costory.v1 import metrics_datasource_pb2_grpc as pb_grpc

EXAMPLE = REPO / "examples" / "terraform" / "quickstart"


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main() -> int:
    if not terraform_available():
        print("terraform or the provider mirror is missing: run `make demo`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="costory-demo-") as raw:
        root = Path(raw)
        say("Starting the control plane (SQLite)")
        control_plane = start_control_plane(root)
        try:
            print(f"gRPC on {control_plane.address}, database {control_plane.database_url}")
            say("Creating tenant 'demo'")
            token = control_plane.create_tenant("demo")
            print("token: cst_… (printed once by `costory-control-plane tenants create`; kept out of this output)")

            workdir = root / "terraform"
            shutil.copytree(EXAMPLE, workdir)
            terraform = Terraform(workdir, {"COSTORY_TOKEN": token, "COSTORY_BASE_URL": control_plane.address})
            say(f"terraform init + apply ({EXAMPLE.relative_to(REPO)})")
            terraform.init()
            print(terraform.apply().stdout.strip().splitlines()[-1])
            outputs = json.loads(terraform.run("output", "-json").stdout)
            for name, output in outputs.items():
                print(f"  {name} = {json.dumps(output['value'])}")

            say("What the control plane holds (ListMetricsDatasources over gRPC)")
            stub = pb_grpc.MetricsDatasourceServiceStub(control_plane.channel())
            listed = stub.ListMetricsDatasources(
                pb.ListMetricsDatasourcesRequest(), metadata=(("authorization", f"Bearer {token}"),)
            )
            print(f"  {'id':<40} {'name':<12} {'bucket':<18} {'status':<8} metrics")
            for d in listed.metrics_datasources:
                metrics = ", ".join(m.metric_name for m in d.metrics_definition)
                print(f"  {d.id:<40} {d.name:<12} {d.bucket_name:<18} {d.status:<8} {metrics}")

            say("A second plan shows no changes")
            print("  exit code", terraform.plan_exit_code(), "(0 = no changes)")

            say("terraform destroy")
            print(terraform.run("destroy", "-auto-approve", "-input=false").stdout.strip().splitlines()[-1])
        finally:
            say("Stopping the control plane")
            control_plane.stop()
    print("Done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
