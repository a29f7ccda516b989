"""`make demo`: the "split shared API costs" guide on embedded defaults, then everything stopped.

1. start moto (S3/IAM/STS emulator) and a control plane on a fresh SQLite file, both on loopback;
2. create a tenant (its Google identity is generated locally; ID tokens come from a loopback endpoint);
3. `terraform apply` examples/terraform/split-shared-api-costs: bucket, read policy, a role trusting only
   the tenant's Google subject id, the metrics datasource and the billing datasource (the control plane
   validates the trust of each), and the `team` virtual dimension;
4. an "export job" writes the guide's sample rows as one Parquet file a day;
5. import on demand, then print API calls per team from the REST API;
6. AWS "delivers" January's CUR 2.0 export; importing it recomputes `team`; print the per-team split;
7. destroy, stop the control plane;
8. the "LLM costs per team" guide (examples/terraform/llm-costs-per-team, ``devtools.llm_guide``): Anthropic and
   OpenAI stand-ins, Azurite and bqemulator on loopback, Bedrock calls in a CUR on moto; apply, import every
   source, print AI spend per team x provider x model with tokens, and check the per-team totals against the sum
   of what the sources bill;
9. stop moto, remove the temporary directory;
10. with `--serve` (`make demo SERVE=1`): a control plane holding a small two-month bill of AWS, Anthropic and
    OpenAI cost with a `team` dimension, kept running with the web dashboard's address printed until Ctrl-C; the
    tenant's token goes to a file readable by you only (never to the output). Without it, the demo ends by saying
    how to get there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from control_plane.billing.schema import source_table, with_row_identity
from control_plane.db import create_engine, create_sessionmaker
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.models import Tenant
from devtools.llm_guide import adds_up, report, run_guide
from devtools.local import (
    REPO,
    Terraform,
    aws_emulator_override,
    start_control_plane,
    start_moto,
    terraform_available,
)
from devtools.sample_cur import guide_cur, write_cur
from devtools.sample_usage import upload
from devtools.seed import seed_month

EXAMPLE = REPO / "examples" / "terraform" / "split-shared-api-costs"


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description="Both guides on loopback.")
    parser.add_argument(
        "--serve", action="store_true", help="then keep a control plane with sample cost running for the dashboard"
    )
    serve = parser.parse_args(argv).serve
    if not terraform_available():
        print("terraform or the provider mirror is missing: run `make demo`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="costory-demo-") as raw:
        root = Path(raw)
        say("Starting moto (S3/IAM/STS emulator) and the control plane (SQLite)")
        moto = start_moto(root)
        control_plane = None
        try:
            control_plane = start_control_plane(
                root, {"COSTORY_AWS_ENDPOINT_URL": moto.endpoint, "COSTORY_SCHEDULER_ENABLED": "false"}
            )
            print(f"  emulator {moto.endpoint}; gRPC {control_plane.address}; REST http://{control_plane.http_address}")
            say("Creating tenant 'demo' (token kept out of this output)")
            token = control_plane.create_tenant("demo")

            workdir = root / "terraform"
            shutil.copytree(EXAMPLE, workdir)
            (workdir / "aws_emulator_override.tf").write_text(aws_emulator_override(moto.endpoint))
            terraform = Terraform(workdir, {"COSTORY_TOKEN": token, "COSTORY_BASE_URL": control_plane.address})
            say(f"terraform init + apply ({EXAMPLE.relative_to(REPO)})")
            terraform.init()
            applied = terraform.apply().stdout
            print("  " + next(line for line in applied.splitlines() if line.startswith("Apply complete")))
            outputs = {k: v["value"] for k, v in json.loads(terraform.run("output", "-json").stdout).items()}
            for name, value in outputs.items():
                print(f"  {name} = {value}")

            say("Export job: one Parquet file a day under s3://{bucket}/api-usage/".format(**outputs))
            s3 = moto.s3()
            for key in upload(s3, outputs["bucket"], "api-usage/"):
                print(f"  wrote {key}")

            rest = httpx.Client(
                base_url=f"http://{control_plane.http_address}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            datasource = outputs["metrics_datasource_id"]
            say("Import now (the daily 06:00 UTC run does the same)")
            result = rest.post(f"/v1/metrics-datasources/{datasource}/import").json()
            imported, seen = result.get("files_imported", 0), result.get("files_seen", 0)
            print(f"  {result['status']}: {imported} of {seen} files imported")

            say("API calls per team (REST: /v1/metrics-datasources/{id}/metrics/api_call_count/values?group_by=team)")
            rows = rest.get(
                f"/v1/metrics-datasources/{datasource}/metrics/api_call_count/values",
                params={"start": "2026-01-01", "end": "2026-01-04", "group_by": "team"},
            ).json()["rows"]
            teams = sorted({r["dimensions"]["team"] for r in rows})
            days = sorted({r["day"] for r in rows})
            value = {(r["day"], r["dimensions"]["team"]): r["value"] for r in rows}
            print("  " + f"{'day':<12}" + "".join(f"{t:>10}" for t in teams))
            for day in days:
                print("  " + f"{day:<12}" + "".join(f"{value.get((day, t), 0):>10,.0f}" for t in teams))
            totals = {t: sum(value.get((d, t), 0) for d in days) for t in teams}
            grand = sum(totals.values())
            print("  " + f"{'total':<12}" + "".join(f"{totals[t]:>10,.0f}" for t in teams))
            print("  " + f"{'share':<12}" + "".join(f"{totals[t] / grand:>10.1%}" for t in teams))

            say("AWS delivers January's CUR 2.0 export under s3://{bucket}/cur/; import it".format(**outputs))
            key = write_cur(s3, outputs["bucket"], "cur/", "costory", "2026-01", guide_cur())
            print(f"  wrote {key}")
            billing = rest.post(f"/v1/billing-datasources/{outputs['billing_datasource_id']}/import").json()
            print(
                f"  {billing['status']}: months replaced {billing.get('months_replaced', [])}, "
                f"{billing.get('dimensions_recomputed', 0)} virtual dimension(s) recomputed"
            )

            say("Per-team split of January's bill (REST: /v1/virtual-dimensions/{id}/allocation)")
            state = rest.get(f"/v1/virtual-dimensions/{outputs['virtual_dimension_id']}/allocation").json()
            print(f"  {'team':<14}{'cost':>12}{'share':>9}")
            for item in state["values"]:
                print(f"  {item['value']:<14}{'$' + format(float(item['cost']), ',.2f'):>12}{item['percent'] + '%':>9}")
            print(f"  {'total':<14}{'$' + format(float(state['total_cost']), ',.2f'):>12}")
            print("  by rule:")
            for rule in state["rules"]:
                name = rule.get("rule") or "(no rule matched)"
                print(f"    {name:<26}{'$' + format(float(rule['cost']), ',.2f'):>12}  {rule['cost_rows']} cost rows")
            preview = rest.post(
                "/v1/costs:preview-split",
                json={
                    "start_date": "2026-01-01",
                    "end_date": "2026-01-04",
                    "metric": {
                        "metrics_datasource_id": datasource,
                        "metric_name": "api_call_count",
                        "dimension": "team",
                    },
                    "cost_filter": [{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon API Gateway"]}],
                },
            ).json()
            say("Explorer preview: API gateway cost x share of API calls (REST: POST /v1/costs:preview-split)")
            for row in preview["rows"]:
                total, cost = float(preview["total_cost"]), float(row["cost"])
                print(f"  {row['value']:<14}{float(row['share']):>8.1%} of ${total:,.2f} -> ${cost:,.2f}")

            say("terraform destroy (after the export job's files are removed)")
            for key in [o["Key"] for o in s3.list_objects_v2(Bucket=outputs["bucket"]).get("Contents", [])]:
                s3.delete_object(Bucket=outputs["bucket"], Key=key)
            print("  " + terraform.run("destroy", "-auto-approve", "-input=false").stdout.strip().splitlines()[-1])
            if control_plane is not None:
                control_plane.stop()
                control_plane = None

            guide = root / "llm-costs-per-team"
            guide.mkdir()
            if not adds_up(run_guide(guide, moto, say, show=report)):
                return 1
            if serve:
                serve_dashboard(root / "dashboard")
            else:
                say("The web dashboard")
                print("  `make demo SERVE=1` (or `python -m devtools.demo --serve`) ends with a control plane kept")
                print("  running on sample cost: open the address it prints (http://127.0.0.1:<port>/dashboard) and")
                print("  sign in with the tenant token it writes to a file. Your own: `costory-control-plane serve`,")
                print("  then http://127.0.0.1:8080/dashboard.")
        finally:
            say("Stopping the control plane and the emulator")
            if control_plane is not None:
                control_plane.stop()
            moto.stop()
    print("Done.")
    return 0


# -- the dashboard's sample tenant (also the browser tests' data) ----------------------------------------------

DASHBOARD_DATASOURCE = "bds_dashboard"
DASHBOARD_ROWS = [
    # (day, Provider, ServiceName, ResourceName, x_Model, x_TokenType, tokens, cost)
    ("2026-02-05", "AWS", "Amazon EC2", "team-payments", None, None, None, "40.00"),
    ("2026-02-10", "Anthropic", "Claude", "team-search", "claude-sonnet-4", "input", 2_000_000, "6.00"),
    ("2026-02-12", "OpenAI", "OpenAI API", "team-search", "gpt-4.1", "input", 1_000_000, "2.00"),
    ("2026-02-20", "AWS", "Amazon S3", "shared-bucket", None, None, None, "10.00"),
    ("2026-03-02", "AWS", "Amazon EC2", "team-payments", None, None, None, "50.00"),
    ("2026-03-03", "Anthropic", "Claude", "team-payments", "claude-sonnet-4", "input", 1_000_000, "3.00"),
    ("2026-03-03", "Anthropic", "Claude", "team-payments", "claude-sonnet-4", "output", 200_000, "3.00"),
    ("2026-03-05", "Anthropic", "Claude", "team-search", "claude-sonnet-4", "input", 3_000_000, "9.00"),
    ("2026-03-06", "OpenAI", "OpenAI API", "team-search", "gpt-4.1", "input", 500_000, "1.00"),
    ("2026-03-09", "AWS", "Amazon S3", "shared-bucket", None, None, None, "12.00"),
    ("2026-03-10", "Anthropic", "Claude", "shared", "claude-haiku", "output", 100, "1.00"),
]
"""Two months of cost: cloud resources and AI tokens named after the team that owns them, a shared AI key split
evenly, and a shared bucket no rule claims (the leftover)."""
DASHBOARD_TEAM = {
    "name": "team",
    "rules": [
        {
            "name": "per-key",
            "conditions": [{"column": "ResourceName", "operator": "MATCHES", "values": ["^team-"]}],
            "from_column": {"column": "ResourceName", "mapping": {"strategy": "REGEX", "regex": "^team-(.+)$"}},
        },
        {
            "name": "shared-evenly",
            "conditions": [{"column": "ResourceName", "operator": "EQUALS", "values": ["shared"]}],
            "split_even": ["payments", "search"],
        },
    ],
}


def seed_rows(
    sessions: sessionmaker[Session], data_dir: Path, tenant_id: str, rows: list[tuple], datasource_id: str
) -> None:
    """Record ``rows`` (as DASHBOARD_ROWS) as the tenant's bills of ``datasource_id``, one partition a month."""
    for partition, month in enumerate(sorted({row[0][:7] for row in rows}), start=1):
        chosen = [row for row in rows if row[0].startswith(month)]
        columns = {
            "ChargePeriodStart": [datetime.fromisoformat(r[0]).replace(tzinfo=UTC) for r in chosen],
            "BilledCost": [Decimal(r[7]) for r in chosen],
            "EffectiveCost": [Decimal(r[7]) for r in chosen],
            "ListCost": [Decimal(r[7]) for r in chosen],
            "Provider": [r[1] for r in chosen],
            "ServiceName": [r[2] for r in chosen],
            "ResourceName": [r[3] for r in chosen],
            "x_Model": [r[4] for r in chosen],
            "x_TokenType": [r[5] for r in chosen],
            "ConsumedQuantity": [None if r[6] is None else float(r[6]) for r in chosen],
            "ConsumedUnit": [None if r[6] is None else "Tokens" for r in chosen],
        }
        table = source_table(columns, len(chosen))
        table = with_row_identity(table, datasource_id=datasource_id, billing_period=month, partition_id=partition)
        seed_month(sessions, data_dir, tenant_id, datasource_id, month, table)


def seed_dashboard(sessions: sessionmaker[Session], data_dir: Path, tenant_id: str) -> str:
    """Record DASHBOARD_ROWS as the tenant's February and March 2026 bills and create the `team` dimension over
    them; returns the dimension's id."""
    seed_rows(sessions, data_dir, tenant_id, DASHBOARD_ROWS, DASHBOARD_DATASOURCE)
    with sessions.begin() as session:
        tenant = session.get_one(Tenant, tenant_id)
        row, _warnings = dimensions.create_dimension(session, tenant, DASHBOARD_TEAM, Engine.local(data_dir))
        return row.id


def dashboard_objects(team_id: str) -> list[tuple[str, dict]]:
    """A saved dashboard and a budget for the sample tenant, as the API creates them."""
    ai = {"field": "Provider", "operator": "IN", "values": ["Anthropic", "OpenAI"]}
    widgets = [
        {
            "title": "AI spend per team, last 30 days",
            "kind": "STACKED_BAR",
            "query": {"preset": "LAST_30_DAYS", "group_by": [f"dimension:{team_id}"], "filters": [ai]},
        },
        {"title": "Month to date", "kind": "NUMBER", "query": {"preset": "MONTH_TO_DATE", "granularity": "TOTAL"}},
        {
            "title": "Last month by provider",
            "kind": "TABLE",
            "query": {"preset": "LAST_MONTH", "granularity": "TOTAL", "group_by": ["Provider"]},
        },
    ]
    return [
        ("/v1/dashboards", {"name": "AI spend", "widgets": widgets}),
        ("/v1/budgets", {"name": "AI", "amount": "100.00", "period": "MONTH", "filters": [ai]}),
    ]


def serve_dashboard(workdir: Path) -> None:
    """A control plane with the sample tenant, running until Ctrl-C, its dashboard's address printed."""
    workdir.mkdir(parents=True, exist_ok=True)
    say("The web dashboard on sample cost (Ctrl-C stops it)")
    control_plane = start_control_plane(workdir, {"COSTORY_SCHEDULER_ENABLED": "false"})
    try:
        token = control_plane.create_tenant("dashboard-demo")
        engine = create_engine(control_plane.database_url)
        sessions = create_sessionmaker(engine)
        with sessions() as session:
            tenant_id = session.scalars(sa.select(Tenant.id).where(Tenant.name == "dashboard-demo")).one()
        team = seed_dashboard(sessions, workdir / "data", tenant_id)
        engine.dispose()
        with httpx.Client(
            base_url=f"http://{control_plane.http_address}", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as rest:
            for path, body in dashboard_objects(team):
                rest.post(path, json=body).raise_for_status()
        token_file = Path.home() / ".costory-demo-token"
        descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(token + "\n")
        print(f"  Dashboard: http://{control_plane.http_address}/dashboard")
        print(f"  Sign in with the token in {token_file} (readable by you only); Ctrl-C stops the control plane.")
        while control_plane.process.poll() is None:
            time.sleep(1)
        print(f"  the control plane exited: {control_plane.log_path.read_text()[-2000:]}")
    except KeyboardInterrupt:
        pass
    finally:
        control_plane.stop()


if __name__ == "__main__":
    sys.exit(main())
