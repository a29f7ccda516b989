"""Sample AWS CUR 2.0 data, shaped and laid out like a real Data Export: for tests, the demo and benchmarks.

The guide's month (January 2026): the shared API gateway costs $1,000.00, billed per day in proportion to
that day's API calls (1,331 + 1,570 + 1,464 + 735 = 5,100 calls -> $260.98 + $307.84 + $287.06 + $144.12),
so splitting each day by that day's calls gives Team_A $807.25 and Team_B $192.75 — the same as the
explorer's a / b * d over the four days.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CUR_SCHEMA = pa.schema(
    [
        ("bill_billing_period_start_date", pa.timestamp("ms")),
        ("bill_payer_account_id", pa.string()),
        ("line_item_usage_start_date", pa.timestamp("ms")),
        ("line_item_usage_end_date", pa.timestamp("ms")),
        ("line_item_usage_account_id", pa.string()),
        ("line_item_line_item_type", pa.string()),
        ("line_item_product_code", pa.string()),
        ("line_item_usage_type", pa.string()),
        ("line_item_operation", pa.string()),
        ("line_item_resource_id", pa.string()),
        ("line_item_usage_amount", pa.float64()),
        ("line_item_currency_code", pa.string()),
        ("line_item_unblended_cost", pa.float64()),
        ("line_item_net_unblended_cost", pa.float64()),
        ("line_item_iam_principal", pa.string()),
        ("pricing_public_on_demand_cost", pa.float64()),
        ("product_product_name", pa.string()),
        ("product_region_code", pa.string()),
        ("resource_tags", pa.map_(pa.string(), pa.string())),
    ]
)

ACCOUNT = "123456789012"
GATEWAY_DAILY = [("2026-01-01", 260.98), ("2026-01-02", 307.84), ("2026-01-03", 287.06), ("2026-01-04", 144.12)]
"""The gateway's cost on the guide's four days (January 2026, the days of the sample usage metric)."""


def cur_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A CUR 2.0 table from rows given as {column: value}; `usage_day` (YYYY-MM-DD) fills the dates."""
    filled = []
    for row in rows:
        day = datetime.fromisoformat(row.get("usage_day", "2026-01-01")).replace(tzinfo=UTC)
        base = {
            "bill_billing_period_start_date": day.replace(day=1),
            "bill_payer_account_id": ACCOUNT,
            "line_item_usage_start_date": day,
            "line_item_usage_end_date": day + timedelta(days=1),
            "line_item_usage_account_id": ACCOUNT,
            "line_item_line_item_type": "Usage",
            "line_item_currency_code": "USD",
            "line_item_usage_amount": 1.0,
            "resource_tags": [],
        }
        values = {**base, **{k: v for k, v in row.items() if k != "usage_day"}}
        values.setdefault("line_item_net_unblended_cost", values.get("line_item_unblended_cost"))
        filled.append(values)
    return pa.Table.from_pylist(filled, schema=CUR_SCHEMA)


def guide_rows(month: str = "2026-01") -> list[dict[str, Any]]:
    """The guide's line items, on days 1-4 of ``month`` (`YYYY-MM`)."""
    rows: list[dict[str, Any]] = []
    for january_day, cost in GATEWAY_DAILY:
        day = f"{month}-{january_day[-2:]}"
        rows.append(
            {
                "usage_day": day,
                "line_item_product_code": "AmazonApiGateway",
                "product_product_name": "Amazon API Gateway",
                "line_item_usage_type": "USE1-ApiGatewayRequest",
                "line_item_operation": "ApiGatewayRequest",
                "line_item_resource_id": "arn:aws:apigateway:us-east-1::/restapis/shared-api",
                "product_region_code": "us-east-1",
                "line_item_unblended_cost": cost,
                "pricing_public_on_demand_cost": cost,
            }
        )
        for team, instance, cost_of_team in (("Team_A", "i-0a", 12.5), ("Team_B", "i-0b", 7.25)):
            rows.append(
                {
                    "usage_day": day,
                    "line_item_product_code": "AmazonEC2",
                    "product_product_name": "Amazon Elastic Compute Cloud",
                    "line_item_usage_type": "USE1-BoxUsage:m7g.large",
                    "line_item_operation": "RunInstances",
                    "line_item_resource_id": instance,
                    "product_region_code": "us-east-1",
                    "line_item_unblended_cost": cost_of_team,
                    "resource_tags": [("user_team", team), ("aws_createdBy", "terraform")],
                }
            )
        rows.append(
            {
                "usage_day": day,
                "line_item_product_code": "AmazonS3",
                "product_product_name": "Amazon Simple Storage Service",
                "line_item_usage_type": "USE1-TimedStorage-ByteHrs",
                "line_item_resource_id": "shared-logs",
                "product_region_code": "us-east-1",
                "line_item_unblended_cost": 3.0,
            }
        )
    rows.append(
        {
            "usage_day": f"{month}-04",
            "line_item_line_item_type": "Tax",
            "line_item_product_code": "AmazonApiGateway",
            "line_item_unblended_cost": 80.0,
        }
    )
    return rows


def guide_cur(month: str = "2026-01") -> pa.Table:
    """The guide's month: 17 line items over days 1-4 of ``month`` (default January 2026, the month of the
    sample usage metric): $1,000.00 of Amazon API Gateway, $79.00 of EC2 (tagged `user_team` Team_A /
    Team_B), $12.00 of S3 and an $80.00 tax line; $1,171.00 in all."""
    return cur_table(guide_rows(month))


def cur_key(prefix: str, export_name: str, billing_period: str, part: int = 1) -> str:
    return f"{prefix}{export_name}/data/BILLING_PERIOD={billing_period}/{export_name}-{part:05d}.snappy.parquet"


def write_cur(
    s3_client, bucket: str, prefix: str, export_name: str, billing_period: str, table: pa.Table, part: int = 1
) -> str:
    """Deliver ``table`` where a CUR 2.0 Data Export puts a month's part file; returns the key."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    key = cur_key(prefix, export_name, billing_period, part)
    s3_client.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return key
