"""AWS Cost and Usage Report 2.0 (Data Exports, Parquet) -> the normalized cost table, column by column.

Everything is pyarrow compute over whole columns; no Python loop touches a line item. Amazon Bedrock rows (first-party
models, and third-party models billed through AWS Marketplace) are recognised as AI usage: model and token type come
out of the product name and usage type (docs/sources/aws.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.billing.schema import MONEY, TIMESTAMP, source_table, with_row_identity
from control_plane.billing.sources.common import NotAnAmount, blank_to_null, money_column

REQUIRED_COLUMNS = ("line_item_usage_start_date", "line_item_unblended_cost")
BILLING_PERIOD_IN_KEY = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")
USER_TAG_PREFIX = "user_"
RESOURCE_TAG_PREFIX = "resourceTags/"
"""In CUR 2.0's `tags` column, resource tags carry this prefix; principal tags keep theirs (`iamPrincipal/team`)."""

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


BEDROCK_PRODUCT_CODE = "AmazonBedrock"
BEDROCK_SERVICE = "Amazon Bedrock"
MARKETPLACE_BEDROCK_SUFFIX = r" \(Amazon Bedrock Edition\)$"
"""Third-party models (Claude, ...) are billed through AWS Marketplace: an opaque product code, and a product name
such as "Claude 3 Haiku (Amazon Bedrock Edition)"."""
FIRST_PARTY_MODEL = (
    r"^(?:[A-Z]{2,4}[0-9]*-)?(?P<model>.+?)"
    r"-(?:input-tokens|output-tokens|cache-read-input-token-count|cache-write-input-token-count)$"
)
"""The model segment of a first-party usage type: `USE1-Claude3Haiku-input-tokens` -> `Claude3Haiku`."""
TOKEN_TYPES = (
    ("cache_read", r"cache[-_]?read"),
    ("cache_write", r"cache[-_]?write"),
    ("input", r"-input-tokens(?:-|$)|[:_]input_?tokens?"),
    ("output", r"-output-tokens(?:-|$)|[:_]output_?tokens?"),
)
"""Token type from the lower-cased usage type, first match wins (cache first: a cache read is an input token count).
First-party: `-input-tokens`, `-output-tokens`, `-cache-read-input-token-count`, `-cache-write-input-token-count`;
Marketplace: `USW2-MP:USW2_InputTokenCount-Units`, `USW2-MP:USW2_output_tokens_standard-Units`."""
TOKENS_PER_UNIT = (
    (1_000, r"^(?:1k|1,000|1000) |^thousand"),
    (1_000_000, r"^(?:1m|1,000,000|1000000) |^million"),
)
"""A token row's `pricing_unit` of "1K tokens" / "1M tokens" means its usage amount counts thousands / millions."""


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
        present = [blank_to_null(column(name, pa.string())) for name in names if name in cur.column_names]
        if not present:
            return pa.nulls(rows, pa.string())
        return pc.coalesce(*present) if len(present) > 1 else present[0]

    billed = column("line_item_unblended_cost", MONEY)
    net = column("line_item_net_unblended_cost", MONEY)
    line_item_type = text("line_item_line_item_type")
    product_code = text("line_item_product_code")
    usage_type = text("line_item_usage_type")
    bedrock = _bedrock(
        product_code,
        text("product_product_name"),
        usage_type,
        text("pricing_unit"),
        column("line_item_usage_amount", pa.float64()),
    )
    columns = {
        "ChargePeriodStart": column("line_item_usage_start_date", TIMESTAMP),
        "ChargePeriodEnd": column("line_item_usage_end_date", TIMESTAMP),
        "BillingPeriodStart": column("bill_billing_period_start_date", TIMESTAMP),
        "BilledCost": billed,
        "EffectiveCost": pc.coalesce(net, billed),
        "ListCost": column("pricing_public_on_demand_cost", MONEY),
        "BillingCurrency": pc.coalesce(text("line_item_currency_code"), pa.scalar("USD")),
        "Provider": pa.array(np.full(rows, "AWS", dtype=object), pa.string()),
        "ServiceName": pc.coalesce(bedrock.service_name, text("product_product_name", "line_item_product_code")),
        "ServiceCategory": text("product_product_family", "product_family"),
        "ChargeCategory": _charge_category(line_item_type),
        "SubAccountId": text("line_item_usage_account_id"),
        "BillingAccountId": text("bill_payer_account_id"),
        "ResourceId": text("line_item_resource_id"),
        "RegionId": text("product_region_code"),
        "ConsumedQuantity": bedrock.quantity,
        "ConsumedUnit": bedrock.unit,
        "ResourceName": bedrock.product_name,
        "Tags": _tags(cur, rows),
        "x_ProductCode": product_code,
        "x_UsageType": usage_type,
        "x_Operation": text("line_item_operation"),
        "x_LineItemType": line_item_type,
        "x_IamPrincipal": text("line_item_iam_principal"),
        "x_Model": bedrock.model,
        "x_TokenType": bedrock.token_type,
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
    try:
        return money_column(values, name)
    except NotAnAmount as error:
        raise NotACurFile(str(error)) from None


def _charge_category(line_item_type: pa.Array) -> pa.Array:
    kinds = pa.array(list(CHARGE_CATEGORIES), pa.string())
    categories = pa.array(list(CHARGE_CATEGORIES.values()), pa.string())
    index = pc.index_in(line_item_type, value_set=kinds)
    return pc.coalesce(pc.take(categories, index), pa.scalar("Adjustment"))


def _tags(cur: pa.Table, rows: int) -> pa.Array:
    """CUR 2.0 tags under the keys a rule names: `resource_tags` with the user tags' `user_` prefix removed
    (`user_team` -> `team`), or, where the export has the `tags` column (every tag source, keyed by prefix), that
    column with resource tags' `resourceTags/` prefix removed and every other prefix kept (`iamPrincipal/team`,
    `accountTag/...`, `costCategory/...`). A row whose `tags` is null falls back to its `resource_tags`."""
    resource_tags = _tag_map(cur, "resource_tags", rows, (USER_TAG_PREFIX,))
    if "tags" not in cur.column_names:
        return resource_tags
    tags = _tag_map(cur, "tags", rows, (RESOURCE_TAG_PREFIX, USER_TAG_PREFIX))
    both = pa.concat_arrays([tags, resource_tags])
    index = np.arange(rows, dtype=np.int64)
    index = np.where(tags.is_valid().to_numpy(zero_copy_only=False), index, index + rows)
    return both.take(pa.array(index, pa.int64()))


def _tag_map(cur: pa.Table, name: str, rows: int, prefixes: tuple[str, ...]) -> pa.MapArray:
    """The map column ``name`` (null when absent or not a map) with each of ``prefixes``, in turn, removed from the
    start of a key."""
    map_type = pa.map_(pa.string(), pa.string())
    if name not in cur.column_names:
        return pa.nulls(rows, map_type)
    tags = cur.column(name).combine_chunks()
    if not pa.types.is_map(tags.type):
        return pa.nulls(rows, map_type)
    tags = tags.cast(map_type)
    keys = tags.keys
    for prefix in prefixes:
        keys = pc.if_else(pc.starts_with(keys, prefix), pc.utf8_slice_codeunits(keys, len(prefix)), keys)
    return pa.MapArray.from_arrays(tags.offsets, keys, tags.items, mask=tags.is_null())


@dataclass(frozen=True)
class _Bedrock:
    """The columns Bedrock recognition sets (null, or the generic value, on every other row)."""

    service_name: pa.Array
    product_name: pa.Array
    model: pa.Array
    token_type: pa.Array
    unit: pa.Array
    quantity: pa.Array


def _bedrock(
    product_code: pa.Array, product_name: pa.Array, usage_type: pa.Array, pricing_unit: pa.Array, usage: pa.Array
) -> _Bedrock:
    """Amazon Bedrock rows as AI usage, columnar.

    1. A row is Bedrock when its product code is `AmazonBedrock` (first-party models) or its product name ends in
       " (Amazon Bedrock Edition)" (third-party models billed through AWS Marketplace under an opaque code).
    2. Model: the Marketplace product name without that suffix, else the usage type's model segment.
    3. Token type from the usage type; a token row's unit is "Tokens", its quantity scaled from "1K/1M tokens".
    4. Every other row keeps its usage amount and takes `pricing_unit` as its unit.
    The text patterns run once per distinct product name, usage type and unit (a few thousand in a month of CUR),
    then are spread back over the rows."""
    null_text = pa.scalar(None, pa.string())
    marketplace = pc.fill_null(_per_value(product_name, _is_marketplace_bedrock), False)
    bedrock = pc.or_(pc.fill_null(pc.equal(product_code, BEDROCK_PRODUCT_CODE), False), marketplace)

    named = pc.if_else(marketplace, _per_value(product_name, _marketplace_model), null_text)
    model = pc.if_else(bedrock, pc.coalesce(named, _per_value(usage_type, _first_party_model)), null_text)
    token_type = pc.if_else(bedrock, _per_value(usage_type, _token_type), null_text)
    is_token = pc.is_valid(token_type)
    scale = pc.fill_null(_per_value(pricing_unit, _tokens_per_unit), 1.0)
    quantity = pc.if_else(is_token, pc.multiply(usage, scale), usage)
    return _Bedrock(
        service_name=pc.if_else(marketplace, BEDROCK_SERVICE, null_text),
        product_name=pc.if_else(marketplace, product_name, null_text),
        model=model,
        token_type=token_type,
        unit=pc.if_else(is_token, "Tokens", pricing_unit),
        quantity=quantity,
    )


def _per_value(values: pa.Array, compute: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``compute`` over the distinct values of ``values`` only, spread back over the rows (null stays null)."""
    encoded = pc.dictionary_encode(values)
    return compute(encoded.dictionary).take(encoded.indices)


def _is_marketplace_bedrock(product_names: pa.Array) -> pa.Array:
    return pc.match_substring_regex(product_names, MARKETPLACE_BEDROCK_SUFFIX)


def _marketplace_model(product_names: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(product_names, MARKETPLACE_BEDROCK_SUFFIX, "")


def _first_party_model(usage_types: pa.Array) -> pa.Array:
    return pc.struct_field(pc.extract_regex(usage_types, FIRST_PARTY_MODEL), [0])


def _token_type(usage_types: pa.Array) -> pa.Array:
    lowered = pc.utf8_lower(usage_types)
    null_text = pa.scalar(None, pa.string())
    matches = [pc.if_else(pc.match_substring_regex(lowered, pattern), name, null_text) for name, pattern in TOKEN_TYPES]
    return pc.coalesce(*matches)


def _tokens_per_unit(units: pa.Array) -> pa.Array:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(units))
    scale = pa.array(np.ones(len(units)), pa.float64())
    for factor, pattern in TOKENS_PER_UNIT:
        scale = pc.if_else(pc.match_substring_regex(lowered, pattern), float(factor), scale)
    return scale
