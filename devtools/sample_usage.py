"""The "split shared API costs" guide's sample usage, as an export job would write it: one Parquet file
a day under the datasource's prefix (columns date, team, region, api_call_count).

Team_A made 1,081 + 1,330 + 1,201 + 505 = 4,117 calls over the four days and Team_B 983, 5,100 in all.
"""

from __future__ import annotations

import io
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

# (day, team, region, api_call_count)
ROWS = [
    (date(2026, 1, 1), "Team_A", "us-east-1", 700),
    (date(2026, 1, 1), "Team_A", "eu-west-1", 381),
    (date(2026, 1, 1), "Team_B", "us-east-1", 250),
    (date(2026, 1, 2), "Team_A", "us-east-1", 1330),
    (date(2026, 1, 2), "Team_B", "eu-west-1", 240),
    (date(2026, 1, 3), "Team_A", "us-east-1", 1201),
    (date(2026, 1, 3), "Team_B", "us-east-1", 263),
    (date(2026, 1, 4), "Team_A", "eu-west-1", 505),
    (date(2026, 1, 4), "Team_B", "us-east-1", 230),
]


def daily_files(rows=ROWS) -> dict[date, bytes]:
    """One Parquet file (bytes) per day."""
    table = pa.table(
        {
            "date": pa.array([r[0] for r in rows], pa.date32()),
            "team": [r[1] for r in rows],
            "region": [r[2] for r in rows],
            "api_call_count": pa.array([r[3] for r in rows], pa.int64()),
        }
    )
    files = {}
    for day in sorted({r[0] for r in rows}):
        buffer = io.BytesIO()
        pq.write_table(table.filter(pa.compute.equal(table["date"], pa.scalar(day, pa.date32()))), buffer)
        files[day] = buffer.getvalue()
    return files


def upload(s3_client, bucket: str, prefix: str, rows=ROWS) -> list[str]:
    """Write the daily files as the customer's export job would; returns the keys."""
    keys = []
    for day, body in daily_files(rows).items():
        key = f"{prefix}{day.isoformat()}.parquet"
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
    return keys
