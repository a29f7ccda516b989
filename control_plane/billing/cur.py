"""AWS Cost and Usage Report 2.0 (Data Exports, Parquet) -> the normalized cost table, column by column.

Everything is pyarrow compute over whole columns; no Python loop touches a line item.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.billing.schema import MONEY, TIMESTAMP, source_table, with_row_identity

REQUIRED_COLUMNS = ("line_item_usage_start_date", "line_item_unblended_cost")
BILLING_PERIOD_IN_KEY = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")
USER_TAG_PREFIX = "user_"
MONEY_LIMIT = 10 ** (MONEY.precision - MONEY.scale)
"""Amounts are held below this (in absolute value): 10^16 of any currency is no bill."""

# CUR line item types -> FOCUS ChargeCategory; any other type is an Adjustment.
CHARGE_CATEGORIES = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
}


class NotACurFile(ValueError):
    """The file lacks a column every CUR 2.0 export has; the reason says which."""


def missing_required(schema: pa.Schema) -> list[str]:
    return [name for name in REQUIRED_COLUMNS if schema.get_field_index(name) < 0]


def billing_period_of(key: str, table: pa.Table) -> str:
    """`YYYY-MM` from the export's `BILLING_PERIOD=` folder, else from the data (billing period start, else the
    first usage start)."""
    match = BILLING_PERIOD_IN_KEY.search(key)
    if match:
        return match.group(1)
    for name in ("bill_billing_period_start_date", "line_item_usage_start_date"):
        if name in table.column_names and table.num_rows:
            first = pc.min(_timestamps(table.column(name))).as_py()
            if first is not None:
                return f"{first.year:04d}-{first.month:02d}"
    raise NotACurFile("no BILLING_PERIOD=YYYY-MM in the key and no dates in the file")


def normalize(
    cur: pa.Table, *, datasource_id: str, billing_period: str, partition_id: int, first_row: int = 0
) -> pa.Table:
    """The CUR rows as COST_SCHEMA rows, in the same order; x_RowIds count from ``first_row`` (the rows of the
    partition already written). Raises NotACurFile on a missing required column."""
    missing = missing_required(cur.schema)
    if missing:
        raise NotACurFile(f"missing column(s) {', '.join(missing)}")
    rows = cur.num_rows

    def column(name: str, arrow_type: pa.DataType) -> pa.Array:
        if name not in cur.column_names:
            return pa.nulls(rows, arrow_type)
        values = cur.column(name).combine_chunks()
        if arrow_type == TIMESTAMP:
            return _timestamps(values)
        return _money(values, name) if arrow_type == MONEY else values.cast(arrow_type)

    def text(*names: str) -> pa.Array:
        """The first non-null, non-empty value among the named columns."""
        present = [_blank_to_null(column(name, pa.string())) for name in names if name in cur.column_names]
        if not present:
            return pa.nulls(rows, pa.string())
        return pc.coalesce(*present) if len(present) > 1 else present[0]

    billed = column("line_item_unblended_cost", MONEY)
    net = column("line_item_net_unblended_cost", MONEY)
    line_item_type = text("line_item_line_item_type")
    columns = {
        "ChargePeriodStart": column("line_item_usage_start_date", TIMESTAMP),
        "ChargePeriodEnd": column("line_item_usage_end_date", TIMESTAMP),
        "BillingPeriodStart": column("bill_billing_period_start_date", TIMESTAMP),
        "BilledCost": billed,
        "EffectiveCost": pc.coalesce(net, billed),
        "ListCost": column("pricing_public_on_demand_cost", MONEY),
        "BillingCurrency": pc.coalesce(text("line_item_currency_code"), pa.scalar("USD")),
        "Provider": pa.array(np.full(rows, "AWS", dtype=object), pa.string()),
        "ServiceName": text("product_product_name", "line_item_product_code"),
        "ServiceCategory": text("product_product_family", "product_family"),
        "ChargeCategory": _charge_category(line_item_type),
        "SubAccountId": text("line_item_usage_account_id"),
        "BillingAccountId": text("bill_payer_account_id"),
        "ResourceId": text("line_item_resource_id"),
        "RegionId": text("product_region_code"),
        "ConsumedQuantity": column("line_item_usage_amount", pa.float64()),
        "Tags": _tags(cur, rows),
        "x_ProductCode": text("line_item_product_code"),
        "x_UsageType": text("line_item_usage_type"),
        "x_Operation": text("line_item_operation"),
        "x_LineItemType": line_item_type,
        "x_IamPrincipal": text("line_item_iam_principal"),
    }
    if columns["ChargePeriodStart"].null_count:
        raise NotACurFile(f"{columns['ChargePeriodStart'].null_count} rows without line_item_usage_start_date")
    return with_row_identity(
        source_table(columns, rows),
        datasource_id=datasource_id,
        billing_period=billing_period,
        partition_id=partition_id,
        first_row=first_row,
    )


def _timestamps(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """CUR timestamps (timestamp of any unit, or ISO 8601 text) as UTC microseconds."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = pc.strptime(pc.utf8_slice_codeunits(values, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="us")
    if pa.types.is_date(values.type):
        values = values.cast(pa.timestamp("us"))
    if values.type.tz is None:
        values = pc.assume_timezone(values.cast(pa.timestamp("us")), "UTC")
    return values.cast(TIMESTAMP)


def _money(values: pa.Array, name: str) -> pa.Array:
    """A cost column as MONEY; NaN, infinite and amounts MONEY cannot hold are refused naming the column."""
    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        numbers = values.cast(pa.float64())
        problems = [
            (pc.is_nan(numbers), "NaN"),
            (pc.is_inf(numbers), "an infinite amount"),
            (pc.and_(pc.is_finite(numbers), pc.greater_equal(pc.abs(numbers), float(MONEY_LIMIT))), None),
        ]
        for mask, what in problems:
            count = pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0
            if count:
                first = pc.filter(numbers, pc.fill_null(mask, False))[0].as_py()
                what = what or f"an amount of {MONEY_LIMIT:.0e} or more (e.g. {first:.6g})"
                raise NotACurFile(f"{count} row(s) with {what} in `{name}`; a cost is a finite amount of money")
    return values.cast(MONEY)


def _blank_to_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _charge_category(line_item_type: pa.Array) -> pa.Array:
    kinds = pa.array(list(CHARGE_CATEGORIES), pa.string())
    categories = pa.array(list(CHARGE_CATEGORIES.values()), pa.string())
    index = pc.index_in(line_item_type, value_set=kinds)
    return pc.coalesce(pc.take(categories, index), pa.scalar("Adjustment"))


def _tags(cur: pa.Table, rows: int) -> pa.Array:
    """CUR 2.0 `resource_tags` with user tags' `user_` prefix removed (`user_team` -> `team`)."""
    map_type = pa.map_(pa.string(), pa.string())
    if "resource_tags" not in cur.column_names:
        return pa.nulls(rows, map_type)
    tags = cur.column("resource_tags").combine_chunks()
    if not pa.types.is_map(tags.type):
        return pa.nulls(rows, map_type)
    tags = tags.cast(map_type)
    keys = tags.keys
    user = pc.starts_with(keys, USER_TAG_PREFIX)
    keys = pc.if_else(user, pc.utf8_slice_codeunits(keys, len(USER_TAG_PREFIX)), keys)
    return pa.MapArray.from_arrays(tags.offsets, keys, tags.items, mask=tags.is_null())
