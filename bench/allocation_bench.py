"""Recompute of a dimension, from cost partitions to results written, against the strongest baselines; writes
docs/benchmarks/allocation.md.

Data: cost partitions in COST_SCHEMA as the importer writes them (zstd, row groups of ROW_GROUP_SIZE, string
columns as Parquet writes them, x_RowId = partition << 32 | row), generated with numpy 1M rows at a time. Two
shapes: *friendly* (every column a rule reads follows the resource: ~50k combinations) and *independent* (each
column drawn on its own: about as many combinations as rows, the worst case). Two layouts per size: one
partition holding the whole month, and 5 partitions.

Implementations, each in a fresh process (peak RSS = VmHWM of that process, the input it reads included):
  - ours: `allocate_part` over every partition through `Engine(store).map_parts` (the kernel `run_allocation`
    maps), then `summary.merge` and the summary written — `run_allocation` without the database lookups;
  - numpy: bench/baselines/numpy_codes.py, numpy over each batch's dictionary codes;
  - duckdb: bench/baselines/duckdb_lookup.py, SQL with the rules as lookup tables (both cores, memory_limit).
All three write (row_id, day, value, amount decimal(18, 2), rule) to Parquet per partition; their results are
checked equal (part count, total, per-value totals, and an order-free fingerprint of every part).

    .venv/bin/python bench/allocation_bench.py --repeat 3 --rows 10000000 50000000   # the doc's figures
    .venv/bin/python bench/allocation_bench.py --quick                    # 1M rows, a smoke run
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import machine  # noqa: E402
from control_plane.allocation import (  # noqa: E402
    Allocation,
    Always,
    And,
    Equals,
    In,
    MappingStrategy,
    Matches,
    Not,
    Rule,
    ValueMapping,
    VirtualDimension,
)

MONTH = date(2026, 11, 1)
DAYS = 30
SERVICES = [f"Service{i:02d}" for i in range(60)]
ACCOUNTS = [f"{100000000000 + 7919 * i}" for i in range(40)]
REGIONS = [f"region-{i:02d}" for i in range(20)]
PREFIXES = ["i", "vol", "db", "bucket", "fn", "lb", "snap", "eni"]
TEAMS = [f"team-{i:02d}" for i in range(30)]
ENVS = ["prod", "staging", "dev"]
PRINCIPALS = 2_000
RESOURCES = {"friendly": 50_000, "independent": 100_000}
GATEWAY = "Service59"  # the METRIC rule's service: about 1/60 of the rows
CHUNK = 1 << 20
"""Rows generated and written at a time (memory bounded whatever the partition's size)."""
PARTITIONS = 5
DATA_VERSION = 1
IMPLEMENTATIONS = ("ours", "numpy", "duckdb")
DUCKDB_MEMORY = "1GB"


# --- data ------------------------------------------------------------------------------------------------------


def _resource_ids(count: int) -> pa.Array:
    return pa.array([f"{PREFIXES[i % len(PREFIXES)]}-{i * 2654435761 % 16**10:010x}" for i in range(count)])


def _strings(codes: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), values).cast(pa.string())


def cost_chunk(
    shape: str, rows: int, first_row: int, partition: int, rng: np.random.Generator, fixed: dict
) -> pa.Table:
    """``rows`` COST_SCHEMA rows of one partition (x_RowId from ``first_row``); ``fixed`` holds the per-resource
    attributes and string dictionaries, the same for every chunk."""
    from control_plane.billing.schema import COST_SCHEMA, MONEY, TIMESTAMP

    resource = rng.integers(0, RESOURCES[shape], rows)
    if shape == "friendly":  # the columns rules read follow the resource
        of = fixed["of"]
        service, account, region = of["service"][resource], of["account"][resource], of["region"][resource]
        team, env = of["team"][resource], of["env"][resource]
        has_team, has_env = of["has_team"][resource], of["has_env"][resource]
        principal = (of["principal"][resource] + rng.integers(0, 2, rows)) % PRINCIPALS
    else:  # each drawn on its own
        service, account = rng.integers(0, len(SERVICES), rows), rng.integers(0, len(ACCOUNTS), rows)
        region, team, env = (
            rng.integers(0, len(REGIONS), rows),
            rng.integers(0, len(TEAMS), rows),
            rng.integers(0, 3, rows),
        )
        has_team, has_env = rng.random(rows) < 0.95, rng.random(rows) < 0.9
        principal = rng.integers(0, PRINCIPALS, rows)
    hour = rng.integers(0, DAYS * 24, rows)
    start = np.datetime64(MONTH, "us") + hour.astype("timedelta64[h]")
    # costs: 12 decimals, 2% negative, 0.2% exactly on a half cent (half-to-even matters)
    unscaled = np.round(rng.lognormal(-1.0, 2.0, rows) * 1e12).astype(np.int64)
    half = rng.random(rows) < 0.002
    unscaled[half] = rng.integers(0, 10_000, int(half.sum())) * 10**10 + 5 * 10**9
    unscaled *= np.where(rng.random(rows) < 0.02, -1, 1)
    words = np.empty((rows, 2), dtype=np.int64)
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63
    # tags: team (95%) and env (90%) entries, in that order
    present = np.stack([has_team, has_env], axis=1)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    keys = np.tile(np.array([0, 1], dtype=np.int32), rows)[present.ravel()]
    items = np.stack([team, len(TEAMS) + env], axis=1).ravel()[present.ravel()]
    tags = pa.MapArray.from_arrays(
        pa.array(offsets), _strings(keys, fixed["tag_keys"]), _strings(items, fixed["tag_values"])
    )
    columns = {
        "ChargePeriodStart": pa.array(start, TIMESTAMP),
        "BillingPeriodStart": pa.array(np.full(rows, np.datetime64(MONTH, "us")), TIMESTAMP),
        "BilledCost": pa.Array.from_buffers(MONEY, rows, [None, pa.py_buffer(words)]),
        "BillingCurrency": _strings(np.zeros(rows), pa.array(["USD"])),
        "Provider": _strings(np.zeros(rows), pa.array(["AWS"])),
        "ServiceName": _strings(service, fixed["services"]),
        "SubAccountId": _strings(account, fixed["accounts"]),
        "ResourceId": _strings(resource, fixed["resources"]),
        "RegionId": _strings(region, fixed["regions"]),
        "ConsumedQuantity": pa.array(rng.random(rows) * 100),
        "Tags": tags,
        "x_IamPrincipal": _strings(principal, fixed["principals"]),
        "x_DatasourceId": _strings(np.zeros(rows), pa.array(["bench"])),
        "x_BillingPeriod": _strings(np.zeros(rows), pa.array([MONTH.strftime("%Y-%m")])),
        "x_RowId": pa.array((np.int64(partition) << 32) + np.arange(first_row, first_row + rows, dtype=np.int64)),
    }
    arrays = [columns[f.name] if f.name in columns else pa.nulls(rows, f.type) for f in COST_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=COST_SCHEMA)


def write_partitions(folder: Path, shape: str, total: int, partitions: int) -> list[str]:
    """The cost partitions of one dataset under ``folder`` (kept between runs: generated once)."""
    from control_plane.billing.schema import COST_SCHEMA
    from control_plane.billing.store import ROW_GROUP_SIZE
    from control_plane.datastore import DataStore

    keys = [f"costs/{shape}-{total}-{partitions}/part-{p}.parquet" for p in range(partitions)]
    done = folder / f"costs/{shape}-{total}-{partitions}/v{DATA_VERSION}.done"
    if done.exists():
        return keys
    store = DataStore.local(folder)
    rng = np.random.default_rng(7)
    count = RESOURCES[shape]
    fixed = {
        "services": pa.array(SERVICES), "accounts": pa.array(ACCOUNTS), "regions": pa.array(REGIONS),
        "resources": _resource_ids(count), "tag_keys": pa.array(["team", "env"]), "tag_values": pa.array(TEAMS + ENVS),
        "principals": pa.array([f"{'role' if i % 4 else 'user'}/p{i:04d}" for i in range(PRINCIPALS)]),
        "of": {
            "service": rng.integers(0, len(SERVICES), count), "account": rng.integers(0, len(ACCOUNTS), count),
            "region": rng.integers(0, len(REGIONS), count), "team": rng.integers(0, len(TEAMS), count),
            "env": rng.integers(0, len(ENVS), count), "principal": rng.integers(0, PRINCIPALS, count),
            "has_team": rng.random(count) < 0.95, "has_env": rng.random(count) < 0.9,
        },
    }  # fmt: skip
    started = time.perf_counter()
    for p, key in enumerate(keys):
        rows = total // partitions + (1 if p < total % partitions else 0)
        with store.parquet_writer(key, COST_SCHEMA) as writer:
            for first in range(0, rows, CHUNK):
                chunk = cost_chunk(shape, min(CHUNK, rows - first), first, p, rng, fixed)
                writer.write_table(chunk, row_group_size=ROW_GROUP_SIZE)
    done.write_text("")
    print(
        f"  generated {shape} {total:,} rows in {partitions} partition(s): {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return keys


def dimension() -> VirtualDimension:
    """Today's 50 rules: exact matches, regexes, splits, tags, a 500-entry manual map, a daily METRIC split."""
    rules: list[Rule] = [
        Rule(
            "gateway",
            Equals("ServiceName", GATEWAY),
            Allocation.metric(ValueMapping(MappingStrategy.REGEX, regex=r"^(team-\d+)/")),
        ),
    ]
    for i in range(16):  # exact matches on services
        rules.append(Rule(f"svc-{i}", Equals("ServiceName", SERVICES[i]), Allocation.fixed(TEAMS[i % len(TEAMS)])))
    for i in range(8):  # accounts, a few at a time
        accounts = tuple(ACCOUNTS[3 * i : 3 * i + 3])
        rules.append(Rule(f"acct-{i}", In("SubAccountId", accounts), Allocation.fixed(f"bu-{i}")))
    for i, prefix in enumerate(PREFIXES):  # regexes on resource ids
        resource_ids = Matches("ResourceId", rf"^{prefix}-[0-9a-f]*{i}[0-9a-f]$")
        rules.append(Rule(f"re-{prefix}", resource_ids, Allocation.fixed(f"owner-{prefix}")))
    for i in range(4):
        rules.append(Rule(f"re-region-{i}", Matches("RegionId", rf"-{i}[05]$"), Allocation.fixed(f"geo-{i}")))
    for i in range(3):  # percentage splits, on two columns
        rules.append(
            Rule(
                f"split-{i}",
                And(Equals("RegionId", REGIONS[10 + i]), Equals("tag:env", "prod")),
                Allocation.split_percent({"team-00": "33.3", "team-01": "33.3", "team-02": "33.4"}),
            )
        )
    for i in range(2):  # even splits
        rules.append(Rule(f"even-{i}", Equals("RegionId", REGIONS[15 + i]), Allocation.split_even(TEAMS[:7])))
    for i in range(4):  # tags
        rules.append(Rule(f"tag-{i}", Equals("tag:team", TEAMS[20 + i]), Allocation.fixed(TEAMS[20 + i])))
    manual = {f"role/p{i:04d}": TEAMS[i % len(TEAMS)] for i in range(0, 2000, 4)}  # 500 entries
    rules.append(
        Rule(
            "by-principal",
            Matches("x_IamPrincipal", "^role/"),
            Allocation.from_column("x_IamPrincipal", ValueMapping(MappingStrategy.MANUAL, table=manual)),
        )
    )
    rules.append(Rule("not-dev", Not(In("tag:env", ("dev",))), Allocation.from_column("tag:team")))
    rules.append(Rule("services-rest", In("ServiceName", tuple(SERVICES[16:40])), Allocation.fixed("platform")))
    rules.append(Rule("catch-all", Always(), Allocation.fixed("shared")))
    if len(rules) != 50:
        raise SystemExit(f"the bench dimension has {len(rules)} rules, not 50")
    return VirtualDimension("team", tuple(rules))


def usage_tables() -> dict[str, pa.Table]:
    """The METRIC rule's usage: 20 owners x 30 days (one owner maps to nothing)."""
    rng = np.random.default_rng(11)
    owners = [f"team-{i:02d}/api" for i in range(19)] + ["unmapped-svc"]
    days = [MONTH + timedelta(days=d) for d in range(DAYS)]
    rows = [(day, owner) for day in days for owner in owners]
    return {
        "gateway": pa.table(
            {
                "day": pa.array([r[0] for r in rows], pa.date32()),
                "owner": pa.array([r[1] for r in rows], pa.string()),
                "value": pa.array(rng.integers(0, 2_000_000, len(rows)).astype(np.float64)),
            }
        )
    }


# --- workers ---------------------------------------------------------------------------------------------------


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_ours(data: Path, cost_keys: list[str], out: str, profile: Path | None) -> int:
    from control_plane.datastore import DataStore
    from control_plane.dimensions import summary as summaries
    from control_plane.dimensions.compute import SUMMARY_FILE, Engine, PartJob, allocate_part

    store = DataStore.local(data)
    engine = Engine(store)
    jobs = [PartJob(key, f"{out}/part-{index:05d}.parquet") for index, key in enumerate(cost_keys)]
    kernel = functools.partial(allocate_part, store, dimension(), usage_tables(), None)
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    outcomes = engine.map_parts(kernel, jobs)
    summary = summaries.merge([o.summary for o in outcomes])
    store.write_table(f"{out}/{SUMMARY_FILE}", summary)
    if profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    return sum(o.rows for o in outcomes)


def worker(implementation: str, data: Path, cost_keys: list[str], out: str, profile: Path | None) -> dict:
    """One implementation over the partitions; modules are imported before the clock starts (a server has them
    loaded), the input is read inside it."""
    from bench.baselines import duckdb_lookup, numpy_codes
    from control_plane.dimensions import compute  # noqa: F401  # ours: loaded as the server has it

    (data / out).mkdir(parents=True, exist_ok=True)
    paths = [str(data / k) for k in cost_keys]
    outs = [str(data / out / f"part-{i:05d}.parquet") for i in range(len(cost_keys))]
    dim, usage = dimension(), usage_tables()
    before = _status("VmRSS")
    started = time.perf_counter()
    settings = None
    if implementation == "ours":
        run_ours(data, cost_keys, out, profile)
    elif implementation == "numpy":
        numpy_codes.run(paths, outs, dim, usage)
    elif implementation == "duckdb":
        settings = duckdb_lookup.run(
            paths, outs, dim, usage,
            memory_limit=DUCKDB_MEMORY, threads=os.cpu_count() or 2, temp_directory=str(data / "duckdb-tmp"),
        )  # fmt: skip
    else:
        raise SystemExit(f"unknown implementation {implementation!r}")
    seconds = time.perf_counter() - started
    result = {"seconds": seconds, "peak_rss_mib": _status("VmHWM"), "rss_before_mib": before, "settings": settings}
    return result


def run_worker(implementation: str, data: Path, cost_keys: list[str], out: str, profile: Path | None = None) -> dict:
    command = [sys.executable, __file__, "--worker", implementation, "--data", str(data), "--out", out,
               "--keys", *cost_keys]  # fmt: skip
    if profile is not None:
        command += ["--profile", str(profile)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:  # recorded, and the run goes on (e.g. killed for memory)
        print(f"{implementation} worker failed ({done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {
            "failed": f"{last[:200]} after {time.perf_counter() - started:.0f} s",
            "seconds": float("nan"),
            "peak_rss_mib": float("nan"),
        }
    return json.loads(done.stdout.splitlines()[-1])


# --- checking the results agree ----------------------------------------------------------------------------


def fingerprint(folder: Path) -> dict:
    """Parts, total, per-value totals and an order-free hash of every (row_id, day, value, amount, rule)."""
    import duckdb

    con = duckdb.connect()
    source = f"read_parquet('{folder}/part-*.parquet')"
    parts, total, digest = con.execute(
        f"SELECT count(*), sum(amount), sum(hash(row_id, day, value::VARCHAR, amount, rule::VARCHAR)::HUGEINT) "
        f"FROM {source}"
    ).fetchone() or (0, None, None)
    by_value = dict(con.execute(f"SELECT value::VARCHAR, sum(amount) FROM {source} GROUP BY 1 ORDER BY 1").fetchall())
    return {
        "parts": parts,
        "total": str(total),
        "digest": str(digest),
        "by_value": {k: str(v) for k, v in by_value.items()},
    }


# --- the run ---------------------------------------------------------------------------------------------------


def measure(data: Path, rows: int, shape: str, partitions: int, repeat: int = 1) -> dict:
    """Every implementation on one dataset, each run in its own process, ``repeat`` rounds interleaved (ours,
    numpy, duckdb, ours, ...) so that a slow spell of the machine falls on all of them; the median time and the
    largest peak are kept, and the results of every run checked equal."""
    keys = write_partitions(data, shape, rows, partitions)
    runs: dict[str, list[dict]] = {name: [] for name in IMPLEMENTATIONS}
    prints: dict[str, dict] = {}
    for _round in range(repeat):
        for implementation in IMPLEMENTATIONS:
            out = f"results/{implementation}"
            shutil.rmtree(data / out, ignore_errors=True)
            runs[implementation].append(f := run_worker(implementation, data, keys, out))
            if "failed" in f:
                prints[implementation] = {"failed": f["failed"], "parts": 0, "total": None}
                continue
            printed = fingerprint(data / out)
            if prints.setdefault(implementation, printed) != printed:
                prints[implementation] = {"failed": "runs disagree", "parts": 0, "total": None}
            print(
                f"  {rows:>11,} {shape:11} {partitions} part(s) {implementation:6} {f['seconds']:7.2f} s "
                f"peak {f['peak_rss_mib']:,.0f} MiB, {printed['parts']:,} parts",
                file=sys.stderr,
            )
    figures = {name: _median_run(name_runs) for name, name_runs in runs.items()}
    shutil.rmtree(data / "results", ignore_errors=True)
    reference = next((p for p in prints.values() if "failed" not in p), prints["ours"])
    agree = {name: p == reference for name, p in prints.items()}
    for name, p in prints.items():
        if p != reference:
            shown = {k: v for k, v in p.items() if k != "by_value"}
            print(
                f"  MISMATCH {name}: {shown} vs { ({k: v for k, v in reference.items() if k != 'by_value'}) }",
                file=sys.stderr,
            )
    return {"rows": rows, "shape": shape, "partitions": partitions, "figures": figures, "agree": agree,
            "parts": reference["parts"], "total": reference["total"]}  # fmt: skip


def _median_run(runs: list[dict]) -> dict:
    """One implementation's figures over its runs: the median time (a failed run counts as the slowest), the
    largest peak, and every time."""
    times = sorted(r["seconds"] if r["seconds"] == r["seconds"] else float("inf") for r in runs)
    middle = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    figures = {**runs[0], "seconds": middle if middle != float("inf") else float("nan"), "runs": times}
    figures["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000, 50_000_000])
    parser.add_argument("--quick", action="store_true", help="1M rows, a smoke run (the doc is not written)")
    parser.add_argument("--shapes", nargs="+", default=["friendly", "independent"])
    parser.add_argument("--layouts", type=int, nargs="+", default=[1], help="partitions per dataset")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each implementation; the median is kept")
    parser.add_argument(
        "--several-at-largest",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"also the largest size, independent columns, in {PARTITIONS} partitions",
    )
    parser.add_argument("--data", type=Path, default=Path("/tmp/costory-allocation-bench"),
                        help="generated partitions (kept between runs) and results go here")  # fmt: skip
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks" / "allocation.md")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--code", default="the working tree", help="what code is measured, for the doc")
    parser.add_argument("--report-only", action="store_true", help="rewrite the doc from the last run's figures")
    parser.add_argument("--worker")
    parser.add_argument("--out")
    parser.add_argument("--keys", nargs="+")
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.keys, args.out, args.profile)))
        return
    if args.quick:
        args.rows = [1_000_000]
    if args.report_only:
        saved = json.loads((args.data / "last-run.json").read_text())
        write_doc(
            args,
            saved["results"],
            saved["load"],
            datetime.fromisoformat(saved["started_at"]),
            saved["profile"],
            saved["code"],
        )
        return

    load = os.getloadavg()
    started_at = datetime.now(UTC)
    results = []
    plan = [(rows, shape, partitions) for rows in args.rows for shape in args.shapes for partitions in args.layouts]
    if args.several_at_largest and PARTITIONS not in args.layouts:
        plan.append((max(args.rows), "independent", PARTITIONS))
    for rows, shape, partitions in plan:
        results.append(measure(args.data, rows, shape, partitions, args.repeat))
        (args.data / "partial-run.json").write_text(json.dumps(results, indent=1))  # kept if a later step fails
    shutil.rmtree(args.data / "results", ignore_errors=True)

    profile_note = None
    if not args.no_profile and not args.quick:
        rows = min(args.rows)
        keys = write_partitions(args.data, "independent", rows, 1)
        path = args.data / "ours.prof"
        figures = run_worker("ours", args.data, keys, "results/profile", profile=path)
        shutil.rmtree(args.data / "results", ignore_errors=True)
        if "failed" not in figures:
            profile_note = (rows, figures, profile_table(path))

    saved = {"results": results, "load": load, "started_at": started_at.isoformat(), "profile": profile_note,
             "code": args.code}  # fmt: skip
    (args.data / "last-run.json").write_text(json.dumps(saved, indent=1))
    write_doc(args, results, load, started_at, profile_note, args.code)


def write_doc(args, results, load, started_at, profile_note, code: str) -> None:
    previous = args.output.read_text() if args.output.exists() else ""
    notes = previous.split(NOTES, 1)[1] if NOTES in previous else ""
    text = report(results, load, started_at, profile_note, notes, code)
    print(text)
    if not args.quick:
        args.output.write_text(text)


def profile_table(path: Path, top: int = 18) -> list[tuple[str, float, float]]:
    """(function, cumulative s, own s) of the profile's heaviest functions."""
    import pstats

    stats = pstats.Stats(str(path))
    rows = []
    for (filename, line, name), (_cc, _nc, own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(REPO) + "/", "")
        if "site-packages" in where:
            where = where.split("site-packages/")[1]
        rows.append((f"{where}:{line} {name}", cumulative, own))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


NOTES = "<!-- notes: kept when the figures are re-measured -->"


def _best(figures: dict) -> float:
    """The faster baseline's seconds (a failed run, nan, never wins)."""
    return min(
        (figures[b]["seconds"] for b in ("numpy", "duckdb") if figures[b]["seconds"] == figures[b]["seconds"]),
        default=float("nan"),
    )


def _runs_note(results: list[dict]) -> str:
    repeat = max((len(f.get("runs", [0])) for r in results for f in r["figures"].values()), default=1)
    if repeat == 1:
        return "Single runs: a busy core slows every implementation, not equally; `--repeat 3` for medians."
    return (
        f"Each time is the median of {repeat} runs, the implementations taking turns (ours, numpy, duckdb, ours, "
        "...), so that a slow spell of the machine falls on all of them; every run's time is in last-run.json."
    )


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def report(
    results: list[dict], load: tuple[float, float, float], started_at: datetime, profile_note, notes: str, code: str
) -> str:
    """The benchmark doc: what was measured, the figures, the verdicts against the targets, the profile."""
    lines = [
        "# Benchmarks: recomputing a dimension, partitions to results",
        "",
        "Produced by `bench/allocation_bench.py` (`.venv/bin/python bench/allocation_bench.py --repeat 3 --rows "
        "10000000 50000000`; `--quick` for a 1M-row smoke run). Each (size, shape, layout, implementation) runs "
        "in a fresh process; **time** is wall time from the first partition opened to the last result (and, for "
        "ours, the summary) written; **peak** is that process's VmHWM: interpreter, libraries, whatever of the "
        "input it holds, working memory and the writers' buffers. MiB = 2^20 bytes, GiB = 2^30 bytes. "
        f"Code measured: {code}.",
        "",
        f"Machine: {machine('pyarrow', 'numpy', 'duckdb')}. Run started {started_at:%Y-%m-%d %H:%M} UTC with "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min) on 2 cores. "
        + _runs_note(results),
        "",
        "**Data.** Cost partitions in COST_SCHEMA written as the importer writes them (`DataStore.parquet_writer`, "
        "zstd, row groups of 256k rows, string columns as Parquet encodes them: dictionary pages, falling back to "
        "plain where a row group's dictionary outgrows 1 MiB, as ResourceId's does), `x_RowId` = partition << 32 "
        "| row, BilledCost decimal128(28, 12) with 12 decimals (2% negative, 0.2% exactly on a half cent), "
        "ChargePeriodStart hourly over 30 days. Columns the rules read: ServiceName (60), SubAccountId (40), "
        "RegionId (20), ResourceId, x_IamPrincipal (2,000), tags team (30, on 95% of rows) and env (3, on 90%). "
        "**friendly**: every one of them follows the resource (50,000 resources: ~50k combinations); "
        "**independent**: each drawn on its own (100,000 resources: about one combination per row — the worst "
        "case). Layout: the whole month in 1 partition (an hourly CUR month can hold 50M rows), or 5 partitions.",
        "",
        "**Dimension.** 50 rules: a METRIC rule splitting a service daily by usage (20 owners x 30 days, regex "
        "mapping, one owner unmapped), 16 exact service matches, 8 account lists, 8 regexes on ResourceId, 4 on "
        "RegionId, 3 percentage splits on RegionId AND tag:env, 2 even splits over 7 values, 4 tag rules, a "
        "FROM_COLUMN rule with a 500-entry manual map on x_IamPrincipal, `Not(In(tag:env, dev))` taking its "
        "value from tag:team, a service list, a catch-all.",
        "",
        "**Implementations** — all write (row_id, day, value, amount decimal(18, 2), rule) to zstd Parquet, one "
        "file per partition (DuckDB: per slice), exact cents half-to-even, split by largest remainder, ties to the "
        "smaller value:",
        "- **ours**: `allocate_part` (control_plane/dimensions/compute.py) over every partition through "
        "`Engine(store).map_parts` — the kernel and runner `run_allocation` uses — then `summary.merge` and the "
        "summary written: `run_allocation` minus the database lookups (partition keys, usage). Batches of "
        "`BATCH_ROWS` = 2^20 rows through `allocate`; the summary is built per batch as well.",
        "- **numpy** (bench/baselines/numpy_codes.py): per row group (256k rows), string columns and the tags' keys "
        "and values read dictionary-encoded; each one-column rule evaluated once per distinct value of the row "
        "group's dictionary, the first matching rule per value; a row's rule = the minimum over its columns "
        "(integer lookups) and the several-column rules; group by lookup (rule, mapped value, day); cents from "
        "the decimal's unscaled int64; floor + remainder with integer numerators and the leftover cents by rank, "
        "per part count, vectorized; value and rule written dictionary-encoded (same logical column: strings).",
        "- **duckdb** (bench/baselines/duckdb_lookup.py): one GROUPING SETS scan for the distinct values and "
        "column pairs; lookup tables value -> first rule (and FROM_COLUMN group), (RegionId, env) -> first "
        "several-column rule, day -> METRIC group, group -> parts; per slice of 2M rows (x_RowId range, pruned to "
        "its row groups) one `COPY … TO parquet`: joins, `least` of the candidates, `round_even` cents, the "
        "largest remainder by `row_number()` / `sum()` windows over each multi-part row. "
        f"Settings: threads = 2, memory_limit = {DUCKDB_MEMORY}, preserve_insertion_order = false, a temp "
        "directory for spilling.",
        "",
        "Results are checked equal after every run: the part count, the total, the per-value totals and an "
        "order-free fingerprint (sum of a hash of every (row_id, day, value, amount, rule)) must be the same as "
        "ours — i.e. the same parts, to the cent, not only the same totals.",
        "",
        "| rows | shape | partitions | parts out | ours | numpy | duckdb | ours / best | ours peak RSS "
        "| numpy peak | duckdb peak | results equal |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        f = r["figures"]
        best = _best(f)
        lines.append(
            f"| {r['rows']:,} | {r['shape']} | {r['partitions']} | {r['parts']:,} | {f['ours']['seconds']:.1f} s "
            f"| {f['numpy']['seconds']:.1f} s | {f['duckdb']['seconds']:.1f} s "
            f"| **{f['ours']['seconds'] / best:.2f}x** "
            f"| {f['ours']['peak_rss_mib']:,.0f} MiB | {f['numpy']['peak_rss_mib']:,.0f} MiB "
            f"| {f['duckdb']['peak_rss_mib']:,.0f} MiB | {'yes' if all(r['agree'].values()) else 'NO'} |"
        )
    lines.append("")
    for rows in sorted({r["rows"] for r in results}):
        at = [r for r in results if r["rows"] == rows]
        ratios = [r["figures"]["ours"]["seconds"] / _best(r["figures"]) for r in at]
        peak = max(r["figures"]["ours"]["peak_rss_mib"] for r in at)
        lines.append(
            f"- **{rows:,} rows — time (ours ≤ 1.5x the best baseline): {'met' if max(ratios) <= 1.5 else 'NOT met'}"
            f"** (worst {max(ratios):.2f}x, best {min(ratios):.2f}x); ours peaks at {peak:,.0f} MiB ({_gib(peak)})"
            + (f"; **memory (≤ 2 GiB): {'met' if peak <= 2048 else 'NOT met'}**" if rows >= 50_000_000 else "")
            + "."
        )
    if profile_note is not None:
        rows, figures, table = profile_note
        lines += [
            "",
            f"Where ours spends its time: cProfile of one run at {rows:,} rows, independent columns, 1 partition "
            f"({figures['seconds']:.1f} s with the profiler on, peak {figures['peak_rss_mib']:,.0f} MiB). "
            "Cumulative and own seconds of the heaviest functions:",
            "",
            "| function | cumulative | own |",
            "| --- | --- | --- |",
            *[f"| `{name}` | {cumulative:.2f} s | {own:.2f} s |" for name, cumulative, own in table],
        ]
    lines += ["", NOTES, notes.strip(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
