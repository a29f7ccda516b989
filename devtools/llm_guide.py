"""The "LLM costs per team" guide (examples/terraform/llm-costs-per-team) on embedded defaults: every source runs
on loopback — the Anthropic and OpenAI APIs as wire-format stand-ins, Azure Blob Storage as Azurite, BigQuery as
bqemulator, S3/IAM/STS as moto — and two teams' AI spend is spread over all five sources the way each provider
attributes it (a key, a project, a deployment, an IAM role, a Google Cloud project per team).

``run_guide`` applies the example, delivers the sources' data, imports every datasource, and answers AI spend per
team x provider x model with tokens, next to what each source bills; ``make demo`` prints it, and the acceptance
test checks that the per-team totals add up to the sum of the sources to the cent.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from devtools.azurite import ACCOUNT, Azurite, ExportRunSpec, csv_gz_bytes, upload_run
from devtools.bqemulator import BqEmulator
from devtools.local import REPO, MotoServer, Terraform, aws_emulator_override, start_control_plane
from devtools.sample_cur import cur_table, write_cur
from devtools.standins.anthropic import PRICES as ANTHROPIC_PRICES
from devtools.standins.anthropic import AnthropicStandIn, Dataset
from devtools.standins.openai import OpenAIStandIn, openai_dataset

EXAMPLE = REPO / "examples" / "terraform" / "llm-costs-per-team"
TEAMS = ("payments", "search")
SOURCES = ("Anthropic", "OpenAI", "Microsoft Azure", "AWS", "Google Cloud")
CENT = Decimal("0.01")

OPENAI_PRICES = {
    "gpt-4o-2024-08-06": {"input": Decimal("2.50"), "output": Decimal("10.00"), "cache_read": Decimal("1.25")},
    "gpt-4o-mini-2024-07-18": {"input": Decimal("0.15"), "output": Decimal("0.60"), "cache_read": Decimal("0.075")},
}


def ai_days(today: date) -> list[date]:
    """The two days of AI spend: the day before yesterday and yesterday (UTC)."""
    return [today - timedelta(days=2), today - timedelta(days=1)]


# -- each source's data, and what its bill says ---------------------------------------------------------------


def anthropic_data(days: list[date]) -> tuple[Dataset, Decimal]:
    """A key per team ("team-<team>"); the cost report prices each day's tokens. Returns the bill in USD."""
    usage = (  # key id, key name, model, token type, tokens a day
        ("apikey_01pay", "team-payments", "claude-sonnet-4-20250514", "uncached_input_tokens", 2_000_000),
        ("apikey_01pay", "team-payments", "claude-sonnet-4-20250514", "output_tokens", 400_000),
        ("apikey_02sea", "team-search", "claude-3-5-haiku-20241022", "uncached_input_tokens", 5_000_000),
        ("apikey_02sea", "team-search", "claude-3-5-haiku-20241022", "output_tokens", 600_000),
    )
    rows = [(day, key, name, None, model, kind, tokens) for day in days for key, name, model, kind, tokens in usage]
    dataset = Dataset.from_usage(rows, ANTHROPIC_PRICES)
    return dataset, sum((line.amount for line in dataset.costs), Decimal(0)) / 100


def openai_data(days: list[date]):
    """A project per team, named after it. Returns the dataset and the bill in USD."""
    rows = []
    for day in days:
        rows += [
            (day, "proj_Pay01", "payments", "gpt-4o-2024-08-06", "input", 1_000_000),
            (day, "proj_Pay01", "payments", "gpt-4o-2024-08-06", "output", 250_000),
            (day, "proj_Sea02", "search", "gpt-4o-mini-2024-07-18", "input", 8_000_000),
            (day, "proj_Sea02", "search", "gpt-4o-mini-2024-07-18", "cache_read", 2_000_000),
            (day, "proj_Sea02", "search", "gpt-4o-mini-2024-07-18", "output", 900_000),
        ]
    dataset = openai_dataset(rows, OPENAI_PRICES)
    return dataset, sum((line.amount for line in dataset.costs), Decimal(0))


AZURE_ACCOUNT = "/subscriptions/sub-ai/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/ai-shared"


def azure_rows(days: list[date]) -> list[dict[str, Any]]:
    """Azure OpenAI in an EA actual-cost export: a deployment per team ("<team>-gpt4o"), tokens in thousands."""
    rows = []
    for day in days:
        for team, meter, thousands, cost in (
            ("payments", "gpt 4o 0513 Input global Tokens", "1500", "3.75"),
            ("payments", "gpt 4o 0513 Output global Tokens", "200", "2.00"),
            ("search", "gpt 4o 0513 Input global Tokens", "600", "1.50"),
            ("search", "gpt 4o 0513 Output global Tokens", "80", "0.80"),
        ):
            rows.append(
                {
                    "Date": f"{day:%m/%d/%Y}",
                    "ResourceId": f"{AZURE_ACCOUNT}/deployments/{team}-gpt4o",
                    "SubscriptionId": "sub-ai",
                    "MeterCategory": "Azure OpenAI",
                    "MeterName": meter,
                    "Quantity": thousands,
                    "UnitOfMeasure": "1K",
                    "CostInBillingCurrency": cost,
                    "BillingCurrencyCode": "USD",
                    "ChargeType": "Usage",
                    "Tags": "",
                }
            )
    return rows


def bedrock_rows(days: list[date]) -> list[dict[str, Any]]:
    """Bedrock calls in CUR 2.0, each team through its own role (the caller identity is exported)."""
    rows = []
    for day in days:
        for team, usage_type, tokens, cost in (
            ("payments", "USE1-MP:USE1_InputTokenCount-Units", 3_000_000, 0.75),
            ("payments", "USE1-MP:USE1_OutputTokenCount-Units", 400_000, 0.5),
            ("search", "USE1-MP:USE1_InputTokenCount-Units", 1_000_000, 0.25),
            ("search", "USE1-MP:USE1_OutputTokenCount-Units", 200_000, 0.25),
        ):
            rows.append(
                {
                    "usage_day": day.isoformat(),
                    "line_item_product_code": "prod-mp-claude-3-haiku",
                    "product_product_name": "Claude 3 Haiku (Amazon Bedrock Edition)",
                    "line_item_usage_type": usage_type,
                    "line_item_operation": "Usage",
                    "line_item_iam_principal": f"arn:aws:sts::123456789012:assumed-role/team-{team}/bedrock-session",
                    "product_region_code": "us-east-1",
                    "line_item_usage_amount": float(tokens),
                    "line_item_unblended_cost": cost,
                }
            )
    return rows


def vertex_rows(days: list[date]) -> list[dict[str, Any]]:
    """Vertex AI (Gemini) in the standard BigQuery billing export: a Google Cloud project per team."""
    rows = []
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for project, sku, tokens, cost in (
            ("payments-ml", "Gemini 2.5 Flash GA Text Input - Predictions", 4_000_000, "1.20"),
            ("payments-ml", "Gemini 2.5 Flash GA Text Output - Predictions", 300_000, "0.75"),
            ("search-ml", "Gemini 2.5 Pro GA Text Input - Predictions", 1_000_000, "1.25"),
            ("search-ml", "Gemini 2.5 Pro GA Text Output - Predictions", 100_000, "1.00"),
        ):
            rows.append(
                {
                    "billing_account_id": "0123AB-CDEF01-2345GH",
                    "service": {"id": "C7E2-9256-1C43", "description": "Vertex AI"},
                    "sku": {"id": f"SKU-{len(sku):04d}-{'out' if 'Output' in sku else 'in'}", "description": sku},
                    "usage_start_time": start.isoformat(),
                    "usage_end_time": (start + timedelta(days=1)).isoformat(),
                    "project": {"id": project, "number": "1", "name": project, "labels": []},
                    "labels": [],
                    "system_labels": [],
                    "location": {"location": "us-central1", "region": "us-central1"},
                    "export_time": (start + timedelta(days=1, hours=3)).isoformat(),
                    "cost": float(cost),
                    "currency": "USD",
                    "usage": {"amount": float(tokens), "unit": "count"},
                    "credits": [],
                    "invoice": {"month": f"{day:%Y%m}"},
                    "cost_type": "regular",
                }
            )
    return rows


def _total(rows: list[dict[str, Any]], column: str) -> Decimal:
    return sum((Decimal(str(r[column])) for r in rows), Decimal(0))


# -- running the guide ------------------------------------------------------------------------------------------


@dataclass
class GuideResult:
    rows: list[dict[str, Any]]
    """QueryCosts rows over the two days: team, group {Provider, x_Model}, cost, quantity (tokens)."""
    source_bills: dict[str, Decimal]
    """What each source bills over the two days, computed from the data each was given."""
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def per_team(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for row in self.rows:
            team = row["team"]
            totals[team] = totals.get(team, Decimal(0)) + Decimal(row["cost"])
        return dict(sorted(totals.items()))


@contextlib.contextmanager
def _started(*services: Any) -> Iterator[None]:
    started = []
    try:
        for service in services:
            started.append(service.start())
        yield
    finally:
        for service in reversed(started):
            with contextlib.suppress(Exception):
                service.stop()


def run_guide(
    root: Path,
    moto: MotoServer,
    say: Callable[[str], None] = lambda _: None,
    show: Callable[[GuideResult], object] = lambda _: None,
) -> GuideResult:
    """Apply the example, deliver and import every source, query AI spend per team; ``show`` sees the result
    before everything is destroyed and stopped."""
    today = datetime.now(UTC).date()
    days = ai_days(today)
    anthropic, anthropic_bill = anthropic_data(days)
    openai, openai_bill = openai_data(days)
    azure, bedrock, vertex = azure_rows(days), bedrock_rows(days), vertex_rows(days)
    bills = {
        "Anthropic": anthropic_bill,
        "OpenAI": openai_bill,
        "Microsoft Azure": _total(azure, "CostInBillingCurrency"),
        "AWS": _total(bedrock, "line_item_unblended_cost"),
        "Google Cloud": _total(vertex, "cost"),
    }
    anthropic_key, openai_key = f"sk-ant-admin01-{secrets.token_hex(8)}", f"sk-admin-{secrets.token_hex(8)}"
    anthropic_api = AnthropicStandIn(anthropic, admin_key=anthropic_key)
    openai_api = OpenAIStandIn(openai, admin_api_key=openai_key)
    azurite, bq = Azurite(), BqEmulator()
    say("Starting the AI sources on loopback: Anthropic and OpenAI stand-ins, Azurite, bqemulator")
    with _started(anthropic_api, openai_api, azurite, bq):
        container = azurite.create_container("exports")
        submitted = datetime.combine(today, datetime.min.time(), UTC)
        for month in sorted({f"{d:%Y-%m}" for d in days}):
            month_rows = [r for r in azure if r["Date"].startswith(month[5:7]) and r["Date"].endswith(month[:4])]
            first = date(int(month[:4]), int(month[5:7]), 1)
            last = max(d for d in days if f"{d:%Y-%m}" == month)
            files = {"part_0_0001.csv.gz": csv_gz_bytes(pa.Table.from_pylist(month_rows))}
            for path, kind in (("costs/actual", "ActualCost"), ("costs/amortized", "AmortizedCost")):
                run = ExportRunSpec(f"ai-{kind.lower()}", kind, f"{kind}-{month}", submitted, first, last, files, "Csv")
                upload_run(container, path, run)
        sas_url = azurite.container_sas_url("exports", expiry=datetime.now(UTC) + timedelta(hours=2))
        table = bq.create_export_table("billing", "gcp_billing_export_v1_0123AB_CDEF01_2345GH", detailed=False)
        bq.insert(table, vertex)
        print(
            f"  Anthropic {anthropic_api.url}; OpenAI {openai_api.url}; "
            f"Azurite {azurite.account_url}; BigQuery {bq.url}"
        )

        control_plane = start_control_plane(
            root,
            {
                "COSTORY_AWS_ENDPOINT_URL": moto.endpoint,
                "COSTORY_ANTHROPIC_API_URL": anthropic_api.url,
                "COSTORY_OPENAI_API_URL": openai_api.url,
                "COSTORY_BIGQUERY_API_URL": bq.url,
                "COSTORY_SCHEDULER_ENABLED": "false",
            },
        )
        try:
            token = control_plane.create_tenant("ai-demo")
            workdir = root / "terraform"
            shutil.copytree(EXAMPLE, workdir)
            (workdir / "aws_emulator_override.tf").write_text(aws_emulator_override(moto.endpoint))
            variables = {
                "TF_VAR_start_date": days[0].isoformat(),
                "TF_VAR_anthropic_admin_api_key": anthropic_key,
                "TF_VAR_openai_admin_api_key": openai_key,
                "TF_VAR_azure_storage_account_name": ACCOUNT,
                "TF_VAR_azure_exports_sas_url": sas_url,
                "TF_VAR_gcp_billing_export": table,
            }
            terraform = Terraform(
                workdir, {"COSTORY_TOKEN": token, "COSTORY_BASE_URL": control_plane.address, **variables}
            )
            say(f"terraform init + apply ({EXAMPLE.relative_to(REPO)})")
            terraform.init()
            applied = terraform.apply().stdout
            print("  " + next(line for line in applied.splitlines() if line.startswith("Apply complete")))
            outputs = {k: v["value"] for k, v in json.loads(terraform.run("output", "-json").stdout).items()}

            say("AWS delivers the CUR 2.0 export with the Bedrock calls (caller identity included)")
            s3 = moto.s3()
            for month in sorted({f"{d:%Y-%m}" for d in days}):
                month_rows = [r for r in bedrock if r["usage_day"].startswith(month)]
                print(
                    "  wrote " + write_cur(s3, outputs["cur_bucket"], "cur/", "costory", month, cur_table(month_rows))
                )

            rest = httpx.Client(
                base_url=f"http://{control_plane.http_address}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            say("Import every source now (the daily 06:00 UTC run does the same)")
            imports = {}
            for source, datasource_id in outputs["datasource_ids"].items():
                result = rest.post(f"/v1/billing-datasources/{datasource_id}/import").json()
                imports[source] = result
                print(f"  {source:<10}{result['status']:<10}{result.get('message', '')}")

            team = f"dimension:{outputs['virtual_dimension_id']}"
            answer = rest.post(
                "/v1/costs:query",
                json={
                    "query": {
                        "start_date": days[0].isoformat(),
                        "end_date": days[-1].isoformat(),
                        "granularity": "TOTAL",
                        "group_by": [team, "Provider", "x_Model"],
                        "with_quantity": True,
                    },
                    "page_size": 1000,
                },
            ).json()
            result = GuideResult(_by_team(answer.get("rows", []), team), bills, imports)
            say("AI spend per team x provider x model, with tokens (REST: POST /v1/costs:query)")
            show(result)

            say("terraform destroy (after the export is removed)")
            for key in [o["Key"] for o in s3.list_objects_v2(Bucket=outputs["cur_bucket"]).get("Contents", [])]:
                s3.delete_object(Bucket=outputs["cur_bucket"], Key=key)
            print("  " + terraform.run("destroy", "-auto-approve", "-input=false").stdout.strip().splitlines()[-1])
        finally:
            control_plane.stop()
    return result


def _by_team(rows: list[dict[str, Any]], team: str) -> list[dict[str, Any]]:
    """The query's rows (one period: TOTAL) with the team taken out of the group."""
    out = []
    for row in rows:
        group = dict(row.get("group", {}))
        out.append({"team": group.pop(team, ""), "group": group, "cost": row["cost"], "quantity": row["quantity"]})
    return out


def adds_up(result: GuideResult) -> bool:
    """Whether the per-team totals equal the sum of the sources' bills to the cent, every team having its spend."""
    total = sum(result.per_team.values(), Decimal(0))
    sources = sum(result.source_bills.values(), Decimal(0))
    return total.quantize(CENT) == sources.quantize(CENT) and set(result.per_team) == set(TEAMS)


def report(result: GuideResult) -> None:
    """Print AI spend per team x provider x model with tokens, the per-team totals and the check against the
    sources' bills."""
    print(f"  {'team':<10}{'provider':<17}{'model':<28}{'tokens':>14}{'cost':>11}{'$/1M tokens':>13}")
    for row in result.rows:
        tokens, cost = row["quantity"], Decimal(row["cost"])
        per_million = f"{cost / Decimal(tokens) * 1_000_000:.2f}" if tokens else "-"
        print(
            f"  {row['team']:<10}{row['group'].get('Provider', ''):<17}"
            f"{row['group'].get('x_Model', '(none)'):<28}{tokens:>14,.0f}{'$' + format(cost, ',.2f'):>11}"
            f"{per_million:>13}"
        )
    total = sum(result.per_team.values(), Decimal(0))
    sources = sum(result.source_bills.values(), Decimal(0))
    print("  per team: " + ", ".join(f"{team} ${cost:,.2f}" for team, cost in result.per_team.items()))
    print("  sources:  " + ", ".join(f"{name} ${bill:,.2f}" for name, bill in result.source_bills.items()))
    print(
        f"  check: per-team total ${total:,.2f} {'=' if adds_up(result) else '!='} sum of the sources ${sources:,.2f}"
    )
