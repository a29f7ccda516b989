"""Hostile files, for both kinds of datasource: each is quarantined with an exact reason (or, where it is
honest, loaded), the good file next to it is imported, no exception escapes, and the process running every
import of the table stays under ``PEAK_RSS_BOUND`` whatever the files claim.

Every case gets its own datasource holding the hostile file and a good one. The whole table is imported once,
in a child process (``hostile_imports``) so its peak resident set measures the imports alone; each case then
asserts what that run left in the database and the cost store.

Zero rows, decided: a metrics file with no rows is a valid file holding no usage, loaded with nothing in it.
A CUR file with no rows is a month with no charges: the month is held with 0 rows and $0, not quarantined (a
month whose files were all removed is a different thing and keeps its data, see the billing connector).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from control_plane.billing.store import CostStore
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.imports import guards
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, ImportRecord, MetricsDatasource
from devtools.sample_cur import cur_key, cur_table
from tests.control_plane.imports.support import Metric, add_billing_datasource, add_datasource, files, values

REPO = Path(__file__).resolve().parents[3]
PEAK_RSS_BOUND = 600 << 20
"""What the process importing the whole table may reach (VmHWM), whatever the files claim. The dictionary
bombs below decode to 1 TB and 60 GB; the 10,000-column files claim 10,000 column chunks."""
METRICS_BUCKET = "customer-metrics"
BILLING_BUCKET = "customer-billing"
EXPORT = "costory"
RESEND = "upload the file again (the same key is fine)"
BOMB_ROWS = 1_000_000

# -- files ---------------------------------------------------------------------------------------------------


def parquet(table: pa.Table, **options) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def usage(days, teams, calls) -> pa.Table:
    return pa.table({"date": days, "team": teams, "api_call_count": pa.array(calls, pa.float64())})


def cur(day: str = "2025-10-05", cost: float | None = 10.0) -> pa.Table:
    """One EC2 line item of October 2025 (the hostile month; the good file is January 2026)."""
    return cur_table([{"usage_day": day, "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": cost}])


def replaced(table: pa.Table, name: str, column: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def repeated(value: str, rows: int = BOMB_ROWS) -> pa.DictionaryArray:
    """``value`` on every row, as a dictionary: the file holds it once and its row indices run-length encoded."""
    return pa.DictionaryArray.from_arrays(pa.repeat(pa.scalar(0, pa.int32()), rows), pa.array([value]))


def bomb(value_bytes: int, kind: str, rows: int = BOMB_ROWS) -> bytes:
    """A text column with one ``value_bytes`` value on ``rows`` rows: a few KB of file."""
    if kind == "metrics":
        table = pa.table(
            {
                "date": repeated("2026-01-01", rows),
                "team": repeated("x" * value_bytes, rows),
                "api_call_count": pa.repeat(1.0, rows).cast(pa.float64()),
            }
        )
    else:
        one = cur()
        table = pa.table(
            {
                name: (
                    repeated("x" * value_bytes, rows)
                    if name == "line_item_resource_id"
                    else pa.repeat(one.column(name)[0], rows)
                )
                for name in one.column_names
                if name != "resource_tags"
            }
        )
    return parquet(table, dictionary_pagesize_limit=4 << 20, compression="zstd")


def tag_bomb(value_bytes: int) -> bytes:
    """A CUR file whose `resource_tags` map holds one ``value_bytes`` tag value on a million rows, written without
    the Arrow schema, so a reader not asking for dictionaries gets the value once per row."""
    one = cur()
    tags = pa.MapArray.from_arrays(
        pa.array(np.arange(BOMB_ROWS + 1, dtype=np.int32)), repeated("user_team"), repeated("x" * value_bytes)
    )
    table = pa.table(
        {
            name: tags if name == "resource_tags" else pa.repeat(one.column(name)[0], BOMB_ROWS)
            for name in one.column_names
        }
    )
    return parquet(table, dictionary_pagesize_limit=4 << 20, compression="zstd", store_schema=False)


def wide(table: pa.Table, columns: int = 10_000) -> bytes:
    """``table`` with extra numeric columns up to ``columns`` Parquet columns in all (a map is two)."""
    leaves = pq.ParquetFile(io.BytesIO(parquet(table))).metadata.num_columns
    extra = {f"extra_{i:05d}": pa.array([0.0] * table.num_rows) for i in range(columns - leaves)}
    return parquet(pa.table({**{n: table.column(n) for n in table.column_names}, **extra}))


def truncated(body: bytes) -> bytes:
    return body[: len(body) // 2]


def claiming_huge_row_group(body: bytes, claimed: int = 1 << 40) -> bytes:
    """``body`` with its first row group's footer claiming ``claimed`` bytes uncompressed (the data unchanged).

    In the footer's Thrift compact encoding, RowGroup.total_byte_size (field 2, i64) is the byte 0x16 and a
    zigzag varint, followed by num_rows (field 3, i64, 0x16 again)."""
    real = pq.ParquetFile(io.BytesIO(body)).metadata.row_group(0).total_byte_size
    footer_length = int.from_bytes(body[-8:-4], "little")
    footer = body[-8 - footer_length : -8]
    needle = b"\x16" + _varint(real << 1) + b"\x16"
    assert footer.count(needle) == 1, "the row group's size field was not found exactly once"
    footer = footer.replace(needle, b"\x16" + _varint(claimed << 1) + b"\x16")
    patched = body[: -8 - footer_length] + footer + len(footer).to_bytes(4, "little") + b"PAR1"
    assert pq.ParquetFile(io.BytesIO(patched)).metadata.row_group(0).total_byte_size == claimed
    return patched


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def date32(days_since_epoch: int) -> pa.Array:
    return pa.array([days_since_epoch], pa.date32())


BEYOND_9999 = 3_000_000
"""A date32 in year 10183 (Python's ``date`` stops at 9999)."""


# -- the table -----------------------------------------------------------------------------------------------

METRICS_KEY = "usage.parquet"
BILLING_KEY = cur_key("", EXPORT, "2025-10")


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    """`metrics` or `billing`."""
    body: Callable[[], bytes]
    reason: str | None
    """The exact quarantine reason; None: the file is honest and loaded."""
    key: str = ""
    """Under the datasource's prefix; default METRICS_KEY / BILLING_KEY."""
    loads: tuple = ()
    """What an honest file adds to the good file's data: metrics values (day, dimensions, value, rows), or
    billing months (month, rows, billed cost)."""

    @property
    def name(self) -> str:
        return self.key or (METRICS_KEY if self.kind == "metrics" else BILLING_KEY)


def team(name: str) -> tuple:
    return (("team", name),)


def metrics_rows(problem: str) -> str:
    return f"{problem}. Correct these rows in the export and {RESEND}."


def cur_problem(problem: str) -> str:
    return f"Not a usable CUR 2.0 file: {problem}."


NOT_PARQUET = (
    f"Not a Parquet file (Parquet magic bytes not found in footer). Write the export in Parquet format and {RESEND}."
)
TRUNCATED = (
    "Truncated or damaged Parquet file (Parquet magic bytes not found in footer). Upload the complete file again "
    "(the same key is fine)."
)
COLUMNS = "The file has 10,000 columns; at most 2,000 are read. Export only the columns needed."
HUGE_ROW_GROUP = (
    "Row group 0 claims 1,099,511,627,776 bytes uncompressed; at most 536,870,912 are read at once. Write the file "
    "with smaller row groups."
)
DOUBLE_SLASH = "Not read: the key has an empty segment (`//`), which could name another object; rename the object."
DOT_DOT = "Not read: the key has a `.` or `..` segment, which could name another object; rename the object."
TOO_LONG = (
    "Column `{column}` holds a value of 1,048,576 bytes; values longer than 65,536 bytes are not read. Shorten it in "
    "the export."
)
RANGE = f"{guards.FIRST_DAY}–{guards.LAST_DAY}"


def over_budget(body: bytes) -> str:
    return (
        f"The file decodes to more than {guards.decode_budget(len(body)):,} bytes, over 1,000 times its size of "
        f"{len(body):,} bytes: values repeated by the file's encoding, not data an export holds. Export the data "
        f"again and {RESEND}."
    )


def good_metrics_file() -> bytes:
    return parquet(usage(["2026-01-02", "2026-01-02"], ["a", "b"], [10, 5]))


def good_cur_file() -> bytes:
    return parquet(
        cur_table(
            [
                {"usage_day": "2026-01-03", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 2.5},
                {"usage_day": "2026-01-04", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 10.0},
            ]
        )
    )


def _metrics_case(id: str, body: Callable[[], bytes], reason: str | None, key: str = "", loads: tuple = ()) -> Case:
    return Case(id, "metrics", body, reason, key, loads)


def _billing_case(id: str, body: Callable[[], bytes], reason: str | None, key: str = "", loads: tuple = ()) -> Case:
    return Case(id, "billing", body, reason, key, loads)


def _metrics_day(day: pa.Array) -> bytes:
    return parquet(pa.table({"date": day, "team": ["a"], "api_call_count": [1.0]}))


def _cur_start(start: pa.Array) -> bytes:
    return parquet(replaced(cur(), "line_item_usage_start_date", start))


def _ts(text: str) -> pa.Array:
    return pa.array([datetime.fromisoformat(text)], pa.timestamp("ms"))


_metrics_bomb = bomb(1 << 20, "metrics")
_metrics_near_bomb = bomb(60_000, "metrics")
_billing_bomb = bomb(1 << 20, "billing")
_billing_near_bomb = bomb(60_000, "billing")
_billing_tag_bomb = tag_bomb(60_000)
LONG = "x" * 60_000
SLICED_ROWS = 2_000
"""Rows of 60 KB text: 120 MB decoded, read in slices of at most 64 MiB, well within the decoding budget."""

CASES = [
    # -- metrics ----------------------------------------------------------------------------------------------
    _metrics_case("zero-rows", lambda: parquet(usage([], [], [])), None),
    _metrics_case(
        "long-values-read-in-slices", lambda: bomb(len(LONG), "metrics", SLICED_ROWS), None,
        key="long.parquet", loads=(("2026-01-01", team(LONG), float(SLICED_ROWS), SLICED_ROWS),),
    ),
    _metrics_case("10000-columns", lambda: wide(usage(["2026-01-01"], ["a"], [1])), COLUMNS),
    _metrics_case("dictionary-bomb-1MB", lambda: _metrics_bomb, TOO_LONG.format(column="team")),
    _metrics_case("dictionary-bomb-60KB", lambda: _metrics_near_bomb, over_budget(_metrics_near_bomb)),
    _metrics_case(
        "nan", lambda: parquet(usage(["2026-01-01"], ["a"], [float("nan")])),
        metrics_rows("1 row with NaN in `api_call_count`"),
    ),
    _metrics_case(
        "inf", lambda: parquet(usage(["2026-01-01"], ["a"], [float("inf")])),
        metrics_rows("1 row with an infinite `api_call_count`"),
    ),
    _metrics_case(
        "null", lambda: parquet(usage(["2026-01-01"], ["a"], [None])),
        metrics_rows("1 row with a null `api_call_count` (write 0 when there is nothing to count)"),
    ),
    _metrics_case(
        "sum-overflows",
        lambda: parquet(usage(["2026-01-01"] * 2, ["a"] * 2, [1e308, 1e308])),
        "Metric `api_calls`: `api_call_count` adds up past the largest number a value can hold (1.8e+308) on 1 "
        f"day(s), e.g. 2026-01-01. Correct these rows in the export and {RESEND}.",
    ),
    _metrics_case(
        "date-0001-01-01", lambda: _metrics_day(pa.array([date(1, 1, 1)])),
        metrics_rows(f"1 row with a `date` outside {RANGE}, e.g. `0001-01-01` (no usage can be dated there)"),
    ),
    _metrics_case(
        "date-9999-12-31", lambda: _metrics_day(pa.array([date(9999, 12, 31)])),
        metrics_rows(f"1 row with a `date` outside {RANGE}, e.g. `9999-12-31` (no usage can be dated there)"),
    ),
    _metrics_case(
        "date32-year-10183", lambda: _metrics_day(date32(BEYOND_9999)),
        metrics_rows(f"1 row with a `date` outside {RANGE}, e.g. `10183-09-21` (no usage can be dated there)"),
    ),
    _metrics_case(
        "integer-date", lambda: _metrics_day(pa.array([20260101], pa.int64())),
        "Metric `api_calls`: Column `date` (`date_column`) has type int64; expected a date, a timestamp or ISO 8601 "
        "date strings (YYYY-MM-DD). Change the column's type in the export or point `date_column` at another column.",
    ),
    # A metrics key is only a name: a BILLING_PERIOD folder in it means nothing, and the file is loaded.
    _metrics_case(
        "billing-period-9999-99-in-key", lambda: parquet(usage(["2026-01-01"], ["c"], [3])), None,
        key="BILLING_PERIOD=9999-99/usage.parquet", loads=(("2026-01-01", team("c"), 3.0, 1),),
    ),
    _metrics_case(
        "double-slash-key", lambda: parquet(usage(["2026-01-01"], ["c"], [3])), DOUBLE_SLASH, key="a//usage.parquet"
    ),
    _metrics_case(
        "dot-dot-key", lambda: parquet(usage(["2026-01-01"], ["c"], [3])), DOT_DOT, key="a/../usage.parquet"
    ),
    _metrics_case("not-parquet", lambda: b"date,team,api_call_count\n2026-01-01,a,1\n", NOT_PARQUET),
    _metrics_case(
        "truncated", lambda: truncated(parquet(usage(["2026-01-01"] * 100, ["a"] * 100, [1] * 100))), TRUNCATED
    ),
    _metrics_case(
        "row-group-claims-1TiB", lambda: claiming_huge_row_group(parquet(usage(["2026-01-01"], ["a"], [1]))),
        HUGE_ROW_GROUP,
    ),
    # -- billing ----------------------------------------------------------------------------------------------
    _billing_case("zero-rows", lambda: parquet(cur_table([])), None, loads=(("2025-10", 0, "0"),)),
    _billing_case(
        "long-values-read-in-slices", lambda: bomb(len(LONG), "billing", SLICED_ROWS), None,
        loads=(("2025-10", SLICED_ROWS, "20000.000000000000"),),
    ),
    _billing_case("tag-dictionary-bomb-60KB", lambda: _billing_tag_bomb, over_budget(_billing_tag_bomb)),
    _billing_case("10000-columns", lambda: wide(cur()), COLUMNS),
    _billing_case("dictionary-bomb-1MB", lambda: _billing_bomb, TOO_LONG.format(column="line_item_resource_id")),
    _billing_case("dictionary-bomb-60KB", lambda: _billing_near_bomb, over_budget(_billing_near_bomb)),
    _billing_case(
        "nan", lambda: parquet(cur(cost=float("nan"))),
        cur_problem("1 row(s) with NaN in `line_item_unblended_cost`; a cost is a finite amount of money"),
    ),
    _billing_case(
        "inf", lambda: parquet(cur(cost=float("inf"))),
        cur_problem(
            "1 row(s) with an infinite amount in `line_item_unblended_cost`; a cost is a finite amount of money"
        ),
    ),
    _billing_case(
        "null", lambda: parquet(cur(cost=None)),
        "1 row(s) without `line_item_unblended_cost`; every line item has a cost (0 included).",
    ),
    _billing_case(
        "cost-1e300", lambda: parquet(cur(cost=1e300)),
        cur_problem(
            "1 row(s) with an amount of 1e+16 or more (e.g. 1e+300) in `line_item_unblended_cost`; a cost is a "
            "finite amount of money"
        ),
    ),
    _billing_case(
        "date-0001-01-01", lambda: _cur_start(_ts("0001-01-01")),
        f"1 row(s) with `line_item_usage_start_date` outside {RANGE} (e.g. 0001-01-01); no usage can be dated there.",
    ),
    _billing_case(
        "date-9999-12-31", lambda: _cur_start(_ts("9999-12-31")),
        f"1 row(s) with `line_item_usage_start_date` outside {RANGE} (e.g. 9999-12-31); no usage can be dated there.",
    ),
    _billing_case(
        "date32-year-10183", lambda: _cur_start(date32(BEYOND_9999)),
        f"1 row(s) with `line_item_usage_start_date` outside {RANGE} (e.g. 10183-09-21); no usage can be dated there.",
    ),
    _billing_case(
        "integer-usage-date", lambda: _cur_start(pa.array([1759622400], pa.int64())),
        "`line_item_usage_start_date` has type int64; a CUR 2.0 export writes timestamps.",
    ),
    _billing_case(
        "billing-period-9999-99-in-key", lambda: parquet(cur()),
        "`BILLING_PERIOD=9999-99` is not a month (YYYY-MM). Export it under a valid billing period.",
        key=cur_key("", EXPORT, "9999-99"),
    ),
    _billing_case("double-slash-key", lambda: parquet(cur()), DOUBLE_SLASH, key="a//" + BILLING_KEY),
    _billing_case("dot-dot-key", lambda: parquet(cur()), DOT_DOT, key="a/../" + BILLING_KEY),
    _billing_case("not-parquet", lambda: b"line_item_usage_start_date,line_item_unblended_cost\n", NOT_PARQUET),
    _billing_case("truncated", lambda: truncated(parquet(pa.concat_tables([cur()] * 100))), TRUNCATED),
    _billing_case("row-group-claims-1TiB", lambda: claiming_huge_row_group(parquet(cur())), HUGE_ROW_GROUP),
]


# -- running the table once ----------------------------------------------------------------------------------


@dataclass
class TableRun:
    sessions: object
    costs: CostStore
    datasources: dict[str, str]
    """Case id (kind/id) → datasource id."""
    prefixes: dict[str, str]
    errors: dict[str, str | None]
    peak_rss: int


def case_key(case: Case) -> str:
    return f"{case.kind}/{case.id}"


@pytest.fixture(scope="module")
def table(moto_server, tmp_path_factory):
    """Every case's datasource, files in moto, and one child process importing them all."""
    moto_server.reset()
    workdir = tmp_path_factory.mktemp("hostile")
    database_url = f"sqlite:///{workdir / 'costory.db'}"
    migrate(database_url)
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    s3 = boto3.client(
        "s3", endpoint_url=moto_server.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    for bucket in (METRICS_BUCKET, BILLING_BUCKET):
        s3.create_bucket(Bucket=bucket)
    datasources, prefixes, jobs = {}, {}, []
    for case in CASES:
        prefix = f"{case.id}/"
        if case.kind == "metrics":
            datasource_id = add_datasource(sessions, Metric(), prefix=prefix)
            bucket, good_key, good = METRICS_BUCKET, "good.parquet", good_metrics_file()
        else:
            datasource_id = add_billing_datasource(sessions, prefix=prefix)[1]
            bucket, good_key, good = BILLING_BUCKET, cur_key("", EXPORT, "2026-01"), good_cur_file()
        s3.put_object(Bucket=bucket, Key=prefix + good_key, Body=good)
        s3.put_object(Bucket=bucket, Key=prefix + case.name, Body=case.body())
        assert any(o["Key"] == prefix + case.name for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
        datasources[case_key(case)], prefixes[case_key(case)] = datasource_id, prefix
        jobs.append({"kind": case.kind, "id": datasource_id, "bucket": bucket, "prefix": prefix})
    job = {
        "database_url": database_url,
        "data_dir": str(workdir / "data"),
        "endpoint": moto_server.endpoint,
        "datasources": jobs,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.control_plane.imports.hostile_imports", json.dumps(job)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    yield TableRun(sessions, CostStore(workdir / "data"), datasources, prefixes, report["errors"], report["peak_rss"])
    engine.dispose()




# -- what each case must show --------------------------------------------------------------------------------


def state(sessions, model, datasource_id: str) -> tuple[str, str | None, list[str]]:
    """(datasource status, status message, statuses of its imports)."""
    column = ImportRecord.datasource_id if model is MetricsDatasource else ImportRecord.billing_datasource_id
    with sessions() as session:
        row = session.get(model, datasource_id)
        runs = session.scalars(sa.select(ImportRecord.status).where(column == datasource_id)).all()
        return row.status, row.status_message, list(runs)


def billing_files(sessions, datasource_id: str) -> dict[str, tuple[str, str | None]]:
    with sessions() as session:
        rows = session.execute(
            sa.select(BillingFile.key, BillingFile.status, BillingFile.reason).where(
                BillingFile.datasource_id == datasource_id
            )
        )
        return {key: (status, reason) for key, status, reason in rows}


def months(sessions, datasource_id: str) -> dict[str, tuple[int, str]]:
    with sessions() as session:
        rows = session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == datasource_id))
        return {p.billing_period: (p.rows, p.billed_cost) for p in rows}


GOOD_METRICS_VALUES = [("2026-01-02", team("a"), 10.0, 1), ("2026-01-02", team("b"), 5.0, 1)]
GOOD_MONTH = {"2026-01": (2, "12.500000000000")}


@pytest.mark.parametrize("case", CASES, ids=case_key)
def test_hostile_file(table, case):
    datasource_id, prefix = table.datasources[case_key(case)], table.prefixes[case_key(case)]
    hostile, quarantined = prefix + case.name, case.reason is not None
    assert table.errors[datasource_id] is None

    model = MetricsDatasource if case.kind == "metrics" else BillingDatasource
    status, message, runs = state(table.sessions, model, datasource_id)
    assert runs == (["PARTIAL"] if quarantined else ["SUCCEEDED"])
    assert status == ("WARNING" if quarantined else "OK")
    if quarantined:
        assert message == (
            "1 file quarantined: its rows are not imported. Fix each file and upload it again (the same key is "
            f"fine).\n- {hostile}: {case.reason}"
        )

    if case.kind == "metrics":
        recorded = {key: (status, reason) for key, status, reason, _rows in files(table.sessions, datasource_id)}
        assert values(table.sessions, datasource_id) == sorted([*GOOD_METRICS_VALUES, *case.loads])
    else:
        recorded = billing_files(table.sessions, datasource_id)
        expected_months = {**GOOD_MONTH, **{month: (rows, billed) for month, rows, billed in case.loads}}
        assert months(table.sessions, datasource_id) == expected_months
        # What cost queries read: the partitions' rows, per month.
        tenant_id = "ten_" + datasource_id.removeprefix("bds_")
        with table.sessions() as session:
            held = table.costs.read(session, tenant_id, columns=["x_BillingPeriod", "BilledCost"])
        per_month = held.group_by("x_BillingPeriod").aggregate([("BilledCost", "count"), ("BilledCost", "sum")])
        assert {
            month: (rows, f"{billed:f}")
            for month, rows, billed in zip(*(per_month.column(i).to_pylist() for i in range(3)), strict=True)
        } == {month: held for month, held in expected_months.items() if held[0]}
    assert recorded[hostile] == (("QUARANTINED", case.reason) if quarantined else ("LOADED", None))


def test_the_table_stays_under_the_memory_bound(table):
    """The child process imported every file of the table (1 TB and 60 GB once decoded among them)."""
    print(f"peak RSS of the table's imports: {table.peak_rss / (1 << 20):.0f} MiB (bound {PEAK_RSS_BOUND >> 20} MiB)")
    assert set(table.errors.values()) == {None}
    assert table.peak_rss < PEAK_RSS_BOUND
