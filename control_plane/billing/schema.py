"""The normalized cost table: column names from FOCUS 1.2, provider-specific extras prefixed `x_`.

Every billing connector (AWS CUR 2.0 today; GCP, Azure, Anthropic later) writes exactly this schema, so
rules, allocations and queries never depend on where a cost came from.
"""

from __future__ import annotations

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
        pa.field("Provider", pa.string()),  # "AWS"
        pa.field("ServiceName", pa.string()),  # e.g. "Amazon API Gateway" (CUR product name, else product code)
        pa.field("ServiceCategory", pa.string()),  # CUR product family, when exported
        pa.field("ChargeCategory", pa.string()),  # Usage, Purchase, Tax, Credit or Adjustment
        pa.field("SubAccountId", pa.string()),  # the account that used the resource
        pa.field("BillingAccountId", pa.string()),  # the payer account
        pa.field("ResourceId", pa.string()),
        pa.field("RegionId", pa.string()),
        pa.field("ConsumedQuantity", pa.float64()),
        pa.field("Tags", pa.map_(pa.string(), pa.string())),  # user tags without CUR's `user_` prefix
        pa.field("x_ProductCode", pa.string()),  # e.g. "AmazonApiGateway"
        pa.field("x_UsageType", pa.string()),
        pa.field("x_Operation", pa.string()),
        pa.field("x_LineItemType", pa.string()),  # CUR line item type, as exported
        pa.field("x_IamPrincipal", pa.string()),  # the IAM principal that made the usage, when exported
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
)
"""The text columns a virtual-dimension rule, a cost query or a filter may name (tags: `tag:<key>`)."""
