"""Azure export reading throughput and memory, against Azurite on loopback; writes
docs/benchmarks/azure-normalize.md.

Two 1M-row EA Parquet exports of one month (31 columns, 128k-row row groups, snappy) are generated:
``typical`` (20,000 resources, 2,000 tag strings) and ``worst`` (every other row its own ResourceId and its
own tag string). Both are uploaded to Azurite as export runs (data blob + manifest.json). In the same run,
each measurement in a fresh process so its peak RSS is its own, best of 3:
  (a) plain read: ``pyarrow.parquet.read_table`` of the local file (every column);
  (b) DuckDB: ``SELECT *`` of the local file into an Arrow table;
  (c) ours: ``read_export_file`` of the local file for the whole month (the reader's normalisation, the
      emulator bypassed);
  (d) the download alone from Azurite (the SDK call ``read()`` makes, into a temporary file);
  (e) ours end to end: ``AzureExportReader.read`` of the month through Azurite (list, manifest, download,
      normalise).

    .venv/bin/python bench/azure_normalize_bench.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ROWS = 1_000_000
ROW_GROUP = 131_072
CONTAINER = "bench-exports"
MONTH = (date(2026, 11, 1), date(2026, 12, 1))
REPEATS = 3


def _pick(rng: np.random.Generator, values: list[str] | pa.Array, count: int, skew: float = 1.2) -> pa.Array:
    """``count`` values drawn from ``values`` with a Zipf-like skew (a few values on most rows, as on a bill)."""
    array = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    weights = 1.0 / np.arange(1, len(array) + 1) ** skew
    index = rng.choice(len(array), size=count, p=weights / weights.sum())
    return array.take(pa.array(index))


def _numbered(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def make_export(path: Path, worst: bool, rows: int = ROWS) -> None:
    rng = np.random.default_rng(11 if worst else 7)
    subscriptions = [f"{i:08x}-1111-2222-3333-{i:012x}" for i in range(40)]
    # A resource lives in one resource group of one subscription.
    resource_numbers = np.arange(rows) // 2 if worst else (rng.zipf(1.3, rows) - 1) % 20_000
    sub_index = resource_numbers % 40
    groups = resource_numbers % 400
    categories = [
        "Virtual Machines",
        "Storage",
        "Azure App Service",
        "SQL Database",
        "Bandwidth",
        "Azure Kubernetes Service",
        "Azure OpenAI",
        "Log Analytics",
        "Azure Cosmos DB",
        "Azure Monitor",
        "Key Vault",
        "Load Balancer",
        "Virtual Network",
        "Azure DNS",
        "Event Hubs",
        "Service Bus",
        "Azure Functions",
        "Container Registry",
        "Backup",
        "Azure Cache for Redis",
        "Cognitive Services",
        "Microsoft Defender for Cloud",
        "Azure Data Factory v2",
        "Application Gateway",
        "Azure Synapse Analytics",
    ]
    category = _pick(rng, categories, rows, 0.8)
    ai = pc.is_in(category, value_set=pa.array(["Azure OpenAI", "Cognitive Services"]))
    models = ["gpt 4o 0513", "gpt 4o mini 0718", "o1", "text embedding 3 large", "gpt 4 1"]
    kinds = ["Input global Tokens", "Output global Tokens", "cached Input global Tokens"]
    ai_meters = pa.array([f"{m} {k}" for m in models for k in kinds])
    other_meters = _numbered("Meter ", np.arange(600))
    meter = pc.if_else(ai, _pick(rng, ai_meters, rows, 0.5), _pick(rng, other_meters, rows))
    subcategory = pc.if_else(
        ai, pa.array(["Azure OpenAI"] * rows), _numbered("Series ", rng.integers(0, 150, rows)).cast(pa.string())
    )
    unit = pc.if_else(ai, pa.array(["1K"] * rows), _pick(rng, ["1 Hour", "1 GB", "10K", "1 GB/Month", "1"], rows))
    resource_group = _numbered("rg-", groups)
    sub_ids = pa.array(subscriptions).take(pa.array(sub_index))
    resource_id = pc.binary_join_element_wise(
        "/subscriptions/",
        sub_ids,
        "/resourceGroups/",
        resource_group,
        "/providers/Microsoft.Compute/virtualMachines/",
        _numbered("vm-", resource_numbers),
        "",
    )
    if worst:
        tags = pc.binary_join_element_wise(
            '"team": "',
            _numbered("team-", rng.integers(0, 60, rows)),
            '","env": "prod","owner": "',
            _numbered("user-", np.arange(rows) // 2),
            '"',
            "",
        )
    else:
        tags = _pick(
            rng, [f'"team": "team-{i % 60}","env": "{["prod", "dev", "test"][i % 3]}"' for i in range(2000)], rows
        )
    tags = pc.if_else(pa.array(rng.random(rows) < 0.1), pa.scalar(""), tags)
    days = rng.integers(1, 31, rows)
    date_text = pc.binary_join_element_wise("11/", pc.utf8_lpad(pa.array(days).cast(pa.string()), 2, "0"), "/2026", "")
    charge = _pick(rng, ["Usage", "Purchase", "Tax", "Refund", "UnusedReservation"], rows, 4.0)
    cost = np.round(rng.gamma(0.4, 2.0, rows), 10)
    table = pa.table(
        {
            "InvoiceSectionName": _pick(rng, ["Engineering", "Data", "Platform", "Sales"], rows),
            "AccountName": _pick(rng, ["acct-a", "acct-b", "acct-c"], rows),
            "AccountOwnerId": _pick(rng, ["owner@contoso.com", "ops@contoso.com"], rows),
            "SubscriptionId": sub_ids,
            "SubscriptionName": pa.array([f"Subscription {i}" for i in range(40)]).take(pa.array(sub_index)),
            "ResourceGroup": resource_group,
            "ResourceLocation": _pick(rng, [f"region-{i}" for i in range(30)], rows),
            "Date": date_text,
            "ProductName": pc.binary_join_element_wise(category, " - ", meter, ""),
            "MeterCategory": category,
            "MeterSubCategory": subcategory,
            "MeterId": _numbered("meter-", rng.integers(0, 900, rows)),
            "MeterName": meter,
            "MeterRegion": _pick(rng, [f"Zone {i}" for i in range(5)], rows),
            "UnitOfMeasure": unit,
            "Quantity": rng.gamma(0.5, 20.0, rows),
            "EffectivePrice": rng.gamma(0.5, 0.1, rows),
            "CostInBillingCurrency": cost,
            "CostCenter": _pick(rng, ["cc-1", "cc-2", "", "cc-3"], rows),
            "ConsumedService": _pick(rng, [f"Microsoft.Service{i}" for i in range(40)], rows),
            "ResourceId": resource_id,
            "Tags": tags,
            "OfferId": pa.array(["MS-AZR-0017P"] * rows),
            "AdditionalInfo": _pick(
                rng, ['{"ServiceType": "Standard_D2s_v3", "VCPUs": 2}', "", '{"UsageType": "x"}'], rows
            ),
            "PricingModel": _pick(rng, ["OnDemand", "Reservation", "SavingsPlan", "Spot"], rows, 3.0),
            "ChargeType": charge,
            "BillingAccountId": pa.array(["8608480"] * rows),
            "BillingCurrencyCode": pa.array(["USD"] * rows),
            "PartNumber": _numbered("AAA-", rng.integers(0, 700, rows)),
            "UnitPrice": rng.gamma(0.5, 0.1, rows),
            "Frequency": _pick(rng, ["UsageBased", "OneTime", "Recurring"], rows, 4.0),
        }
    )
    pq.write_table(table, path, compression="snappy", row_group_size=ROW_GROUP)


# -- measurements, each run in a child process -------------------------------------------------------------


def measure(kind: str, path: str, sas_url: str, blob: str) -> dict[str, float]:
    if kind in ("ours", "end-to-end", "baseline"):
        import control_plane.billing.sources.azure  # noqa: F401  (loaded before the clock starts, as in a server)
    started = time.perf_counter()
    rows = 0
    if kind == "baseline":
        rows = pq.ParquetFile(path).metadata.num_rows
    elif kind == "plain":
        rows = pq.read_table(path).num_rows
    elif kind == "duckdb":
        import duckdb

        relation = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
        assert relation is not None
        rows = relation.to_arrow_table().num_rows
    elif kind == "ours":
        from control_plane.billing.sources.azure import CostKind, read_export_file

        days = [date(2026, 11, d) for d in range(1, 31)]
        rows = sum(t.num_rows for t in read_export_file(path, CostKind.ACTUAL, days, key="bench"))
    elif kind == "download":
        from azure.storage.blob import ContainerClient

        with tempfile.NamedTemporaryFile() as out:
            ContainerClient.from_container_url(sas_url).download_blob(blob).readinto(out)
            rows = pq.ParquetFile(out.name).metadata.num_rows
    elif kind == "end-to-end":
        from control_plane.billing.sources.azure import AzureExportReader

        reader = AzureExportReader("devstoreaccount1", CONTAINER, "actual/" + Path(path).stem, "amortized", sas_url)
        rows = sum(t.num_rows for t in reader.read(*MONTH))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "peak_mib": peak}


def child(kind: str, path: Path, sas_url: str = "", blob: str = "") -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--path", str(path), "--sas-url", sas_url, "--blob", blob],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def best(kind: str, path: Path, sas_url: str = "", blob: str = "") -> dict[str, float]:
    runs = [child(kind, path, sas_url, blob) for _ in range(REPEATS)]
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    from devtools.azurite import Azurite, ExportRunSpec, upload_run

    results: dict[str, dict[str, dict[str, float]]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="azure-bench-") as folder, Azurite() as azurite:
        container = azurite.create_container(CONTAINER)
        sas_url = azurite.container_sas_url(CONTAINER)
        for variant in ("typical", "worst"):
            path = Path(folder) / f"{variant}.parquet"
            # Generated in a child: the children measured are forked from this process, and a process's peak
            # RSS counts what it inherited at fork.
            subprocess.run([sys.executable, __file__, "--generate", variant, "--path", str(path)], check=True, cwd=REPO)
            sizes[variant] = path.stat().st_size
            spec = ExportRunSpec(
                f"bench-{variant}",
                "ActualCost",
                f"run-{variant}",
                datetime(2026, 12, 1, 6, tzinfo=UTC),
                MONTH[0],
                date(2026, 11, 30),
                {"part_0_0001.parquet": path},
            )
            manifest = upload_run(container, f"actual/{variant}", spec)
            blob = manifest.replace("manifest.json", "part_0_0001.parquet")
            results[variant] = {
                kind: best(kind, path, sas_url, blob)
                for kind in ("baseline", "plain", "duckdb", "ours", "download", "end-to-end")
            }
            print(variant, json.dumps(results[variant]), file=sys.stderr)
    write_report(results, sizes)


def write_report(results: dict[str, dict[str, dict[str, float]]], sizes: dict[str, int]) -> None:
    labels = {
        "baseline": "baseline: libraries loaded, footer read",
        "plain": "(a) plain `pq.read_table`, every column, local file",
        "duckdb": "(b) DuckDB `SELECT *` into Arrow, local file",
        "ours": "(c) ours: `read_export_file`, whole month, local file",
        "download": "(d) download alone from Azurite",
        "end-to-end": "(e) ours end to end: `AzureExportReader.read` through Azurite",
    }
    lines = [
        "# Benchmarks: Azure export normalisation",
        "",
        "Produced by `bench/azure_normalize_bench.py`: best of 3 runs, each in a fresh process (peak RSS is the "
        "process's own, libraries included); exports served by Azurite on loopback.",
        "",
        f"Machine: {machine('pyarrow', 'duckdb')}.",
        "",
        f"Files: 1,000,000-row EA Parquet exports (31 columns, {ROW_GROUP:,}-row row groups, snappy); `typical`: "
        f"20,000 ResourceIds and 2,000 tag strings ({sizes['typical'] / 2**20:.1f} MiB); `worst`: 500,000 "
        f"ResourceIds and 500,000 tag strings ({sizes['worst'] / 2**20:.1f} MiB).",
        "",
    ]
    for variant, figures in results.items():
        plain_rate = figures["plain"]["rows"] / figures["plain"]["seconds"]
        lines += [
            f"## {variant}",
            "",
            "| measurement | rows | seconds | rows/s | peak RSS |",
            "| --- | --- | --- | --- | --- |",
        ]
        for kind, label in labels.items():
            f = figures[kind]
            if kind == "baseline":
                lines.append(f"| {label} | | | | {f['peak_mib']:.0f} MiB |")
                continue
            lines.append(
                f"| {label} | {f['rows']:,.0f} | {f['seconds']:.2f} | {f['rows'] / f['seconds']:,.0f} | "
                f"{f['peak_mib']:.0f} MiB |"
            )
        ours_rate = figures["ours"]["rows"] / figures["ours"]["seconds"]
        end_to_end_rate = figures["end-to-end"]["rows"] / figures["end-to-end"]["seconds"]
        lines += [
            "",
            f"Ours / plain read: **{ours_rate / plain_rate:.2f}x** (target >= 0.5x); "
            f"end to end / plain read: {end_to_end_rate / plain_rate:.2f}x.",
            "",
        ]
    report = REPO / "docs" / "benchmarks" / "azure-normalize.md"
    existing = report.read_text() if report.exists() else ""
    notes = existing.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in existing else "\n"
    report.write_text("\n".join(lines) + "<!-- notes -->" + notes)
    print(report.read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure")
    parser.add_argument("--generate", choices=["typical", "worst"])
    parser.add_argument("--path", default="")
    parser.add_argument("--sas-url", default="")
    parser.add_argument("--blob", default="")
    arguments = parser.parse_args()
    if arguments.generate:
        make_export(Path(arguments.path), worst=arguments.generate == "worst")
    elif arguments.measure:
        print(json.dumps(measure(arguments.measure, arguments.path, arguments.sas_url, arguments.blob)))
    else:
        main()
