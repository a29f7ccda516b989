"""The normalized cost table: column names from FOCUS 1.2, provider-specific extras prefixed `x_`.

Every billing connector (AWS CUR 2.0 today; GCP, Azure, Anthropic later) writes exactly this schema, so
rules, allocations and queries never depend on where a cost came from.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(28, 12)
"""Costs as exported, with 12 decimal places (CUR prices go below a millionth of a dollar)."""

COST_SCHEMA = pa.schema(
    [
        pa.field("ChargePeriodStart", TIMESTAMP, nullable=False),  # start of the usage hour/day (UTC)
        pa.field("ChargePeriodEnd", TIMESTAMP),
        pa.field("BillingPeriodStart", TIMESTAMP),  # first instant of the billing month
        pa.field("BilledCost", MONEY),  # what is invoiced: CUR unblended cost
        pa.field("EffectiveCost", MONEY),  # after discounts: CUR net unblended cost when exported, else unblended
        pa.field("ListCost", MONEY),  # at public on-demand prices, when exported
        pa.field("BillingCurrency", pa.string()),
        pa.field("Provider", pa.string()),  # AWS, Google Cloud, Microsoft Azure, Anthropic, OpenAI, Cursor, Elastic
        pa.field("ServiceName", pa.string()),  # e.g. "Amazon API Gateway" (CUR product name, else product code)
        pa.field("ServiceCategory", pa.string()),  # CUR product family, when exported
        pa.field("ChargeCategory", pa.string()),  # Usage, Purchase, Tax, Credit or Adjustment
        pa.field("SubAccountId", pa.string()),  # the account that used the resource
        pa.field("BillingAccountId", pa.string()),  # the payer account
        pa.field("ResourceId", pa.string()),
        pa.field("RegionId", pa.string()),
        pa.field("ConsumedQuantity", pa.float64()),  # tokens for AI usage
        pa.field("Tags", pa.map_(pa.string(), pa.string())),  # user tags without CUR's `user_` prefix
        pa.field("ResourceName", pa.string()),  # e.g. an Anthropic API key's name, a Cursor user's email
        pa.field("SubAccountName", pa.string()),  # e.g. a GCP project's or an OpenAI project's name
        pa.field("ConsumedUnit", pa.string()),  # e.g. "Tokens", "Requests", "Hours"
        pa.field("PricingCurrency", pa.string()),  # when the source prices in another unit (Elastic: "ECU")
        pa.field("PricingCurrencyEffectiveCost", MONEY),  # the cost in PricingCurrency, as the source states it
        pa.field("x_ProductCode", pa.string()),  # e.g. "AmazonApiGateway"
        pa.field("x_UsageType", pa.string()),
        pa.field("x_Operation", pa.string()),
        pa.field("x_LineItemType", pa.string()),  # CUR line item type, as exported
        pa.field("x_IamPrincipal", pa.string()),  # the IAM principal that made the usage, when exported
        pa.field("x_Model", pa.string()),  # AI usage: the model, e.g. "claude-sonnet-4-20250514", "gpt-4o"
        pa.field("x_TokenType", pa.string()),  # AI usage: input, output, cache_read, cache_write, ...
        pa.field("x_DatasourceId", pa.string(), nullable=False),
        pa.field("x_BillingPeriod", pa.string(), nullable=False),  # "YYYY-MM"
        pa.field("x_RowId", pa.int64(), nullable=False),  # partition id << 32 | row index: unique per tenant
    ]
)

RULE_COLUMNS: tuple[str, ...] = (
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "SubAccountId",
    "BillingAccountId",
    "ResourceId",
    "RegionId",
    "Provider",
    "BillingCurrency",
    "x_ProductCode",
    "x_UsageType",
    "x_Operation",
    "x_LineItemType",
    "x_IamPrincipal",
    "ResourceName",
    "SubAccountName",
    "ConsumedUnit",
    "x_Model",
    "x_TokenType",
)
"""The text columns a virtual-dimension rule, a cost query or a filter may name (tags: `tag:<key>`)."""

ROW_IDENTITY = ("x_DatasourceId", "x_BillingPeriod", "x_RowId")
"""Set by the importer, not by a source's reader."""
SOURCE_SCHEMA = pa.schema([f for f in COST_SCHEMA if f.name not in ROW_IDENTITY])
"""What a billing source's reader produces: the cost table without the importer's identity columns."""


def source_table(columns: dict[str, pa.Array | pa.ChunkedArray | list], num_rows: int) -> pa.Table:
    """A SOURCE_SCHEMA table from the columns a reader has (cast to the schema's types); every other column
    is null. Decimal costs must arrive as decimals or decimal strings, never floats."""
    unknown = set(columns) - set(SOURCE_SCHEMA.names)
    if unknown:
        raise ValueError(f"not cost-table columns: {', '.join(sorted(unknown))}")
    arrays = []
    for schema_field in SOURCE_SCHEMA:
        values = columns.get(schema_field.name)
        if values is None:
            arrays.append(pa.nulls(num_rows, schema_field.type))
            continue
        array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
        arrays.append(array.cast(schema_field.type))
    return pa.Table.from_arrays(arrays, schema=SOURCE_SCHEMA)


def with_row_identity(
    table: pa.Table, *, datasource_id: str, billing_period: str, partition_id: int, first_row: int = 0
) -> pa.Table:
    """A SOURCE_SCHEMA table as COST_SCHEMA rows of one partition: x_RowIds count from ``first_row`` (the rows
    of the partition already written)."""
    rows = table.num_rows
    identity = {
        "x_DatasourceId": pa.array(np.full(rows, datasource_id, dtype=object), pa.string()),
        "x_BillingPeriod": pa.array(np.full(rows, billing_period, dtype=object), pa.string()),
        "x_RowId": pa.array(
            (np.int64(partition_id) << 32) + np.arange(first_row, first_row + rows, dtype=np.int64), pa.int64()
        ),
    }
    return pa.Table.from_arrays(
        [identity[f.name] if f.name in identity else table.column(f.name) for f in COST_SCHEMA], schema=COST_SCHEMA
    )
