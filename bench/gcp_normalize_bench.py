"""GCP billing export normalization throughput; writes docs/benchmarks/gcp-normalize.md.

1M rows shaped as the reader's query returns them (the columns of `QUERY_COLUMNS` plus the detailed table's
resource, as Arrow pages of 50,000 rows, which is what `google-cloud-bigquery` yields page by page) are generated
for two cases: ``typical`` (2,000 SKUs, 300 projects, 20,000 resources, labels from a few hundred values) and
``worst`` (every row its own resource name and global name, and its own label value). In the same run, best of 3:
  (a) plain read: `pyarrow.parquet.read_table` of the same rows from a local Parquet file (every column);
  (b) DuckDB: `SELECT *` of that file into an Arrow table;
  (c) ours: `normalize` over the in-memory pages (the seam `read` feeds each page through);
and, measured apart, (d) `BigQueryBillingReader.read` of a smaller sample through bqemulator on loopback (REST
JSON paging: the emulator's own speed, not BigQuery's).

    .venv/bin/python bench/gcp_normalize_bench.py [--rows N] [--emulator-rows N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from control_plane.billing.sources.bigquery import PAGE_ROWS, BigQueryBillingReader, normalize  # noqa: E402
from control_plane.billing.sources.common import NORMALIZE_THREADS, normalized_in_order  # noqa: E402

ROWS = 1_000_000
EMULATOR_ROWS = 20_000
REPEATS = 3
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
KEY_VALUE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))


def _pick(rng: np.random.Generator, values: pa.Array, count: int, skew: float = 1.1) -> pa.Array:
    """``count`` values drawn with a Zipf-like skew (a few values on most rows, as on a bill)."""
    weights = 1.0 / np.arange(1, len(values) + 1) ** skew
    return values.take(pa.array(rng.choice(len(values), size=count, p=weights / weights.sum())))


def _numbered(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def _key_values(rng: np.random.Generator, rows: int, most: int, keys: pa.Array, values: pa.Array) -> pa.Array:
    """A list of 0..``most`` key/value pairs per row."""
    lengths = rng.integers(0, most + 1, size=rows)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    struct = pa.StructArray.from_arrays(
        [
            keys.take(pa.array(rng.integers(0, len(keys), total))),
            values.take(pa.array(rng.integers(0, len(values), total))),
        ],
        names=["key", "value"],
    )
    return pa.ListArray.from_arrays(pa.array(offsets), struct).cast(KEY_VALUE)


def make_rows(rows: int, worst: bool) -> pa.Table:
    """Rows as the query returns them, usage spread over November's hours."""
    rng = np.random.default_rng(23 if worst else 5)
    services = pa.array([f"{i:04X}-{i * 7 % 65536:04X}-{i * 13 % 65536:04X}" for i in range(40)])
    descriptions = pa.array(["Compute Engine", "Cloud Storage", "BigQuery", "Vertex AI", "Kubernetes Engine"] * 8)
    service_index = pa.array(rng.integers(0, 40, rows))
    skus = pa.concat_arrays(
        [
            pa.array(
                [f"Gemini 2.5 Flash GA Text {kind} - Predictions" for kind in ("Input", "Output")]
                + ["Gemini 2.5 Pro Input Text Caching", "Gemini 2.0 Flash Text Input Caching Storage"]
            ),
            _numbered("E2 Instance Core running in region ", np.arange(1996)),
        ]
    )
    projects = _numbered("project-", np.arange(300))
    hours = rng.integers(0, 30 * 24, rows).astype("timedelta64[h]")
    start = np.datetime64("2026-11-01T00:00:00", "us") + hours
    if worst:
        resource_names = _numbered("instance-", np.arange(rows))
        label_values = _numbered("request-", np.arange(rows))
    else:
        resource_names = _pick(rng, _numbered("instance-", np.arange(20_000)), rows)
        label_values = _numbered("value-", np.arange(400))
    costs = pc.cast(pa.array(np.round(rng.gamma(0.5, 0.2, rows), 6)), pa.string())
    credit_lengths = np.where(rng.random(rows) < 0.3, rng.integers(1, 3, rows), 0)
    credit_offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(credit_lengths, out=credit_offsets[1:])
    credits = pa.ListArray.from_arrays(
        pa.array(credit_offsets),
        pc.cast(pa.array(-np.round(rng.random(int(credit_offsets[-1])) * 0.01, 6)), pa.string()),
    )
    project = _pick(rng, projects, rows)
    return pa.table(
        {
            "billing_account_id": pa.array(np.full(rows, "0123AB-CDEF01-2345GH", dtype=object), pa.string()),
            "invoice_month": pa.array(np.full(rows, "202611", dtype=object), pa.string()),
            "cost_type": _pick(rng, pa.array(["regular", "tax", "adjustment", "rounding_error"]), rows, 4.0),
            "service_id": services.take(service_index),
            "service_description": descriptions.take(service_index),
            "sku_description": _pick(rng, skus, rows),
            "usage_start_time": pa.array(start, pa.timestamp("us", "UTC")),
            "usage_end_time": pa.array(start + np.timedelta64(1, "h"), pa.timestamp("us", "UTC")),
            "project_id": project,
            "project_name": pc.utf8_upper(project),
            "project_labels": _key_values(
                rng, rows, 2, pa.array(["team", "cost-center", "env"]), _numbered("t", np.arange(50))
            ),
            "labels": _key_values(rng, rows, 4, _numbered("label-", np.arange(40)), label_values),
            "system_labels": _key_values(
                rng,
                rows,
                3,
                pa.array(["compute.googleapis.com/machine_spec", "compute.googleapis.com/cores"]),
                _numbered("e2-", np.arange(20)),
            ),
            "region": _pick(rng, pa.array(["us-central1", "europe-west1", "asia-east1", None]), rows),
            "cost": costs,
            "currency": pa.array(np.full(rows, "USD", dtype=object), pa.string()),
            "usage_amount": pa.array(rng.random(rows) * 3600),
            "usage_unit": _pick(rng, pa.array(["seconds", "count", "byte-seconds", "requests"]), rows),
            "credit_amounts": credits,
            "resource_name": resource_names,
            "resource_global_name": pc.binary_join_element_wise(
                "//compute.googleapis.com/projects/p/instances/", resource_names, ""
            ),
        }
    )


def best(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def duckdb_read(path: Path) -> pa.Table:
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{path}')")
    assert relation is not None
    return relation.to_arrow_table()


def measure_case(rows: int, worst: bool, workdir: Path) -> list[tuple[str, int, float]]:
    """(a), (b) and (c), interleaved within each repeat so a busy moment of the machine hits all three."""
    table = make_rows(rows, worst)
    path = workdir / f"{'worst' if worst else 'typical'}.parquet"
    pq.write_table(table, path, row_group_size=PAGE_ROWS)
    pages = table.to_batches(max_chunksize=PAGE_ROWS)
    del table
    runs: dict[str, Callable[[], Any]] = {
        "(a) plain `pq.read_table`, every column, local file": lambda: pq.read_table(path),
        "(b) DuckDB `SELECT *` into Arrow, local file": lambda: duckdb_read(path),
        f"(c) ours: `normalize` as `read` runs it ({NORMALIZE_THREADS} threads, pages in order), {len(pages)} pages "
        f"of {PAGE_ROWS:,} rows in memory": lambda: list(
            normalized_in_order(lambda page: normalize(page, True), pages)
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, run in runs.items():
            began = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - began)
    return [(name, rows, min(seconds)) for name, seconds in times.items()]


def emulator_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The sample as export rows for `insertAll` (setup, not measured)."""

    def pairs(values: list[dict[str, str]] | None) -> list[dict[str, str]]:
        return values or []

    out = []
    for row in table.to_pylist():
        out.append(
            {
                "billing_account_id": row["billing_account_id"],
                "service": {"id": row["service_id"], "description": row["service_description"]},
                "sku": {"id": "sku", "description": row["sku_description"]},
                "usage_start_time": row["usage_start_time"].isoformat(),
                "usage_end_time": row["usage_end_time"].isoformat(),
                "project": {
                    "id": row["project_id"],
                    "name": row["project_name"],
                    "labels": pairs(row["project_labels"]),
                },
                "labels": pairs(row["labels"]),
                "system_labels": pairs(row["system_labels"]),
                "location": {"region": row["region"]},
                "export_time": "2026-12-01T00:00:00+00:00",
                "cost": float(row["cost"]),
                "currency": row["currency"],
                "usage": {"amount": row["usage_amount"], "unit": row["usage_unit"]},
                "credits": [{"name": "c", "amount": float(a), "type": "PROMOTION"} for a in row["credit_amounts"]],
                "invoice": {"month": row["invoice_month"]},
                "cost_type": row["cost_type"],
                "resource": {"name": row["resource_name"], "global_name": row["resource_global_name"]},
            }
        )
    return out


def measure_emulator(rows: int) -> tuple[int, float, float]:
    from google.auth.credentials import AnonymousCredentials

    from devtools.bqemulator import BqEmulator

    sample = emulator_rows(make_rows(rows, worst=False))
    with BqEmulator() as emulator:
        uri = emulator.create_export_table(
            "billing", "gcp_billing_export_resource_v1_BENCH0_BENCH0_BENCH0", detailed=True
        )
        began = time.perf_counter()
        emulator.insert(uri, sample)
        loaded = time.perf_counter() - began
        reader = BigQueryBillingReader(uri, True, credentials=AnonymousCredentials(), api_endpoint=emulator.url)
        read_rows = 0

        def read() -> None:
            nonlocal read_rows
            read_rows = sum(t.num_rows for t in reader.read(date(2026, 11, 1), date(2026, 12, 1)))

        seconds = best(read)
        reader.close()
    assert read_rows == rows, (read_rows, rows)
    return rows, seconds, loaded


def table_lines(results: list[tuple[str, int, float]]) -> list[str]:
    lines = ["| measurement | rows | seconds | rows/s |", "| --- | --- | --- | --- |"]
    for name, rows, seconds in results:
        lines.append(f"| {name} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--emulator-rows", type=int, default=EMULATOR_ROWS)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "gcp-normalize.md")
    args = parser.parse_args()

    lines = [
        "# Benchmarks: GCP billing export normalization",
        "",
        f"Produced by `bench/gcp_normalize_bench.py` on {datetime.now(UTC):%Y-%m-%d}: best of {REPEATS} runs in one "
        "process.",
        "",
        f"Machine: {machine('pyarrow', 'duckdb')}.",
        "",
        f"Rows: {args.rows:,} export rows as the reader's query returns them (detailed table: resource name and "
        "global name included), usage spread over one month; 30% of rows carry one or two credits; 0-4 labels, "
        "0-2 project labels and 0-3 system labels per row. `typical`: 2,000 SKUs, 300 projects, 20,000 resources, "
        "400 label values; `worst`: every row its own resource name, global name and label value.",
    ]
    with tempfile.TemporaryDirectory(prefix="gcp-bench-") as workdir:
        for worst in (False, True):
            results = measure_case(args.rows, worst, Path(workdir))
            plain, ours = results[0], results[2]
            ratio = (ours[1] / ours[2]) / (plain[1] / plain[2])
            lines += ["", f"## {'worst' if worst else 'typical'}", "", *table_lines(results), ""]
            lines.append(f"Ours / plain read: **{ratio:.2f}x** (target >= 0.5x).")
            print("\n".join(lines[-8:]), flush=True)
    rows, seconds, loaded = measure_emulator(args.emulator_rows)
    lines += [
        "",
        "## Through bqemulator (measured apart)",
        "",
        *table_lines([("(d) `BigQueryBillingReader.read`, one month, REST pages through bqemulator", rows, seconds)]),
        "",
        f"Loading the sample through `insertAll` took {loaded:.1f} s (setup, not part of the read).",
    ]
    notes = args.out.read_text().split("<!-- notes -->", 1)[1] if args.out.exists() else "\n"
    args.out.write_text("\n".join(lines) + "\n<!-- notes -->" + notes)
    print("\n".join(lines[-6:]))


if __name__ == "__main__":
    main()
