"""CUR 2.0 rows -> normalized cost rows, column by column, on hand-built tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from control_plane.allocation.engine import allocate
from control_plane.billing.cur import NotACurFile, billing_period_of, normalize
from control_plane.billing.schema import COST_SCHEMA
from control_plane.dimensions.definition import parse_definition
from devtools.sample_cur import cur_table, guide_cur


def one(**row):
    return normalize(cur_table([row]), datasource_id="bds_1", billing_period="2026-01", partition_id=3).to_pylist()[0]


def test_every_mapped_column():
    row = one(
        usage_day="2026-01-02",
        line_item_product_code="AmazonApiGateway",
        product_product_name="Amazon API Gateway",
        line_item_usage_type="USE1-ApiGatewayRequest",
        line_item_operation="ApiGatewayRequest",
        line_item_resource_id="arn:aws:apigateway:us-east-1::/restapis/shared-api",
        line_item_iam_principal="arn:aws:iam::123456789012:role/payments",
        product_region_code="us-east-1",
        line_item_unblended_cost=12.345678901234,
        line_item_net_unblended_cost=10.5,
        pricing_public_on_demand_cost=13.0,
        line_item_usage_amount=1500.0,
        resource_tags=[("user_team", "Team_A"), ("aws_createdBy", "terraform")],
    )
    assert row == {
        "ChargePeriodStart": datetime(2026, 1, 2, tzinfo=UTC),
        "ChargePeriodEnd": datetime(2026, 1, 3, tzinfo=UTC),
        "BillingPeriodStart": datetime(2026, 1, 1, tzinfo=UTC),
        "BilledCost": Decimal("12.345678901234"),
        "EffectiveCost": Decimal("10.500000000000"),
        "ListCost": Decimal("13.000000000000"),
        "BillingCurrency": "USD",
        "Provider": "AWS",
        "ServiceName": "Amazon API Gateway",
        "ServiceCategory": None,
        "ChargeCategory": "Usage",
        "SubAccountId": "123456789012",
        "BillingAccountId": "123456789012",
        "ResourceId": "arn:aws:apigateway:us-east-1::/restapis/shared-api",
        "RegionId": "us-east-1",
        "ConsumedQuantity": 1500.0,
        "Tags": [("team", "Team_A"), ("aws_createdBy", "terraform")],
        "ResourceName": None,
        "SubAccountName": None,
        "ConsumedUnit": None,
        "PricingCurrency": None,
        "PricingCurrencyEffectiveCost": None,
        "x_ProductCode": "AmazonApiGateway",
        "x_UsageType": "USE1-ApiGatewayRequest",
        "x_Operation": "ApiGatewayRequest",
        "x_LineItemType": "Usage",
        "x_IamPrincipal": "arn:aws:iam::123456789012:role/payments",
        "x_Model": None,
        "x_TokenType": None,
        "x_DatasourceId": "bds_1",
        "x_BillingPeriod": "2026-01",
        "x_RowId": 3 << 32,
    }


@pytest.mark.parametrize(
    ("line_item_type", "category"),
    [
        ("Usage", "Usage"),
        ("DiscountedUsage", "Usage"),
        ("SavingsPlanCoveredUsage", "Usage"),
        ("Tax", "Tax"),
        ("Credit", "Credit"),
        ("Refund", "Credit"),
        ("Fee", "Purchase"),
        ("RIFee", "Purchase"),
        ("SavingsPlanRecurringFee", "Purchase"),
        ("SavingsPlanUpfrontFee", "Purchase"),
        (None, "Adjustment"),
        ("SavingsPlanNegation", "Adjustment"),
        ("BundledDiscount", "Adjustment"),
    ],
)
def test_charge_category_from_the_line_item_type(line_item_type, category):
    assert one(line_item_line_item_type=line_item_type, line_item_unblended_cost=1.0)["ChargeCategory"] == category


def test_missing_optional_columns_are_null_and_the_service_falls_back_to_the_product_code():
    cur = pa.table(
        {
            "line_item_usage_start_date": pa.array([datetime(2026, 2, 3, 4)], pa.timestamp("ms")),
            "line_item_unblended_cost": [0.25],
            "line_item_product_code": ["AmazonS3"],
            "line_item_resource_id": [""],
        }
    )
    row = normalize(cur, datasource_id="bds_1", billing_period="2026-02", partition_id=1).to_pylist()[0]
    assert row["ChargePeriodStart"] == datetime(2026, 2, 3, 4, tzinfo=UTC)
    assert row["ServiceName"] == "AmazonS3"
    assert row["ResourceId"] is None  # empty string -> null
    assert row["EffectiveCost"] == Decimal("0.250000000000")
    assert (row["ListCost"], row["Tags"], row["x_IamPrincipal"], row["RegionId"]) == (None, None, None, None)
    assert row["BillingCurrency"] == "USD"


def test_row_ids_number_the_rows_of_the_partition_in_order():
    table = normalize(guide_cur(), datasource_id="bds_1", billing_period="2026-01", partition_id=7)
    assert table.schema == COST_SCHEMA
    assert table.column("x_RowId").to_pylist() == [(7 << 32) + i for i in range(17)]


def test_a_file_without_the_required_columns_is_not_a_cur_file():
    with pytest.raises(NotACurFile, match="missing column\\(s\\) line_item_unblended_cost"):
        normalize(
            pa.table({"line_item_usage_start_date": [datetime(2026, 1, 1)]}),
            datasource_id="d",
            billing_period="2026-01",
            partition_id=1,
        )


def test_billing_period_from_the_key_then_from_the_data():
    table = guide_cur()
    assert billing_period_of("cur/exp/data/BILLING_PERIOD=2025-12/exp-00001.snappy.parquet", table) == "2025-12"
    assert billing_period_of("cur/somewhere/file.parquet", table) == "2026-01"


def test_null_values_fall_back_like_missing_columns():
    row = one(
        line_item_product_code="AmazonRDS",
        product_product_name=None,
        line_item_unblended_cost=2.5,
        line_item_net_unblended_cost=None,
        line_item_currency_code=None,
        product_region_code="",
        resource_tags=None,
    )
    assert (row["ServiceName"], row["EffectiveCost"], row["BillingCurrency"], row["RegionId"], row["Tags"]) == (
        "AmazonRDS",
        Decimal("2.500000000000"),
        "USD",
        None,
        None,
    )


def test_tags_keep_non_user_keys_and_strip_only_the_leading_user_prefix():
    row = one(
        line_item_unblended_cost=1.0,
        resource_tags=[("user_cost_center", "42"), ("aws_createdBy", "alice"), ("user_user_x", "y"), ("team", "raw")],
    )
    assert row["Tags"] == [("cost_center", "42"), ("aws_createdBy", "alice"), ("user_x", "y"), ("team", "raw")]


def test_costs_are_decimal_with_twelve_places_from_cur_floats():
    table = cur_table([{"line_item_unblended_cost": cost} for cost in (0.1, 0.00000015, 260.98, -1.0, 1e15)])
    costs = normalize(table, datasource_id="d", billing_period="2026-01", partition_id=1).column("BilledCost")
    assert costs.type == pa.decimal128(28, 12)
    assert [str(c) for c in costs.to_pylist()] == [
        "0.100000000000",
        "1.50000E-7",
        "260.980000000000",
        "-1.000000000000",
        "1000000000000000.000000000000",
    ]
    with pytest.raises(NotACurFile, match=r"^1 row\(s\) with NaN in `line_item_unblended_cost`"):
        normalize(
            cur_table([{"line_item_unblended_cost": float("nan")}]),
            datasource_id="d",
            billing_period="2026-01",
            partition_id=1,
        )


def test_cur_doubles_of_1024_and_more_are_the_decimals_they_were_written_from():
    """A plain cast would give 98765.432100000005 and 123456789.123456791043 (the doubles' binary values)."""
    table = cur_table([{"line_item_unblended_cost": cost} for cost in (98765.4321, 123456789.123456789)])
    costs = normalize(table, datasource_id="d", billing_period="2026-01", partition_id=1).column("BilledCost")
    assert costs.to_pylist() == [Decimal("98765.432100000000"), Decimal("123456789.123456790000")]


def test_iso_text_and_naive_timestamps_are_read_as_utc():
    cur = pa.table(
        {
            "line_item_usage_start_date": ["2026-03-04T05:00:00Z", "2026-03-31T23:00:00.000Z"],
            "line_item_usage_end_date": pa.array([datetime(2026, 3, 4, 6), datetime(2026, 4, 1)], pa.timestamp("s")),
            "line_item_unblended_cost": [1.0, 2.0],
        }
    )
    table = normalize(cur, datasource_id="d", billing_period="2026-03", partition_id=1)
    assert table.column("ChargePeriodStart").to_pylist() == [
        datetime(2026, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 3, 31, 23, tzinfo=UTC),
    ]
    assert table.column("ChargePeriodEnd").to_pylist() == [
        datetime(2026, 3, 4, 6, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    ]
    assert billing_period_of("cur/x.parquet", cur) == "2026-03"


def test_rows_without_a_usage_start_are_refused():
    cur = pa.table(
        {"line_item_usage_start_date": pa.array([None], pa.timestamp("ms")), "line_item_unblended_cost": [1.0]}
    )
    with pytest.raises(NotACurFile, match="1 rows without line_item_usage_start_date"):
        normalize(cur, datasource_id="d", billing_period="2026-01", partition_id=1)


# --- Amazon Bedrock, units and principal tags ------------------------------------------------------------------


def normalized(rows: list[dict], **extra: list) -> list[dict]:
    """``rows`` through normalize, with columns the sample CUR schema lacks (``pricing_unit``, ``tags``) added."""
    table = cur_table(rows)
    for name, values in extra.items():
        arrow_type = pa.map_(pa.string(), pa.string()) if name == "tags" else pa.string()
        table = table.append_column(name, pa.array(values, arrow_type))
    return normalize(table, datasource_id="bds_1", billing_period="2026-01", partition_id=3).to_pylist()


AI_COLUMNS = (
    "ServiceName",
    "ResourceName",
    "x_ProductCode",
    "x_Model",
    "x_TokenType",
    "ConsumedQuantity",
    "ConsumedUnit",
)


def ai_columns(row: dict) -> tuple:
    return tuple(row[name] for name in AI_COLUMNS)


def test_first_party_bedrock_rows_name_the_model_and_token_type_from_the_usage_type():
    bedrock = {"line_item_product_code": "AmazonBedrock", "product_product_name": "Amazon Bedrock"}
    rows = normalized(
        [
            {**bedrock, "line_item_usage_type": "USE1-Claude3Haiku-input-tokens", "line_item_usage_amount": 1.5},
            {**bedrock, "line_item_usage_type": "USE1-Claude3Haiku-output-tokens", "line_item_usage_amount": 0.25},
            {**bedrock, "line_item_usage_type": "USW2-Claude4.6Sonnet-cache-read-input-token-count"},
            {**bedrock, "line_item_usage_type": "EUC1-NovaPro-cache-write-input-token-count"},
            {**bedrock, "line_item_usage_type": "USE1-ModelUnit-Hours", "line_item_usage_amount": 24.0},
        ],
        pricing_unit=["1K tokens", "1K tokens", "1M tokens", "Tokens", "Hours"],
    )
    assert [ai_columns(row) for row in rows] == [
        ("Amazon Bedrock", None, "AmazonBedrock", "Claude3Haiku", "input", 1500.0, "Tokens"),
        ("Amazon Bedrock", None, "AmazonBedrock", "Claude3Haiku", "output", 250.0, "Tokens"),
        ("Amazon Bedrock", None, "AmazonBedrock", "Claude4.6Sonnet", "cache_read", 1_000_000.0, "Tokens"),
        ("Amazon Bedrock", None, "AmazonBedrock", "NovaPro", "cache_write", 1.0, "Tokens"),
        # Bedrock, but not tokens (provisioned throughput): no model segment, no token type, the unit as priced.
        ("Amazon Bedrock", None, "AmazonBedrock", None, None, 24.0, "Hours"),
    ]


def test_marketplace_bedrock_rows_are_amazon_bedrock_with_the_model_from_the_product_name():
    marketplace = {
        "line_item_product_code": "8vzv0cyl2xk3t4kq2d4q5ty2f",
        "product_product_name": "Claude 3 Haiku (Amazon Bedrock Edition)",
        "line_item_unblended_cost": 0.75,
    }
    rows = normalized(
        [
            {
                **marketplace,
                "line_item_usage_type": "USW2-MP:USW2_InputTokenCount-Units",
                "line_item_usage_amount": 3e5,
            },
            {**marketplace, "line_item_usage_type": "USW2-MP:USW2_output_tokens_standard-Units"},
            {**marketplace, "line_item_usage_type": "USW2-MP:USW2_cache_read_tokens_standard-Units"},
            {**marketplace, "line_item_usage_type": "USW2-MP:USW2_cache_write_tokens_30m_standard-Units"},
        ],
        pricing_unit=["Units", "Units", "Units", "Units"],
    )
    name = "Claude 3 Haiku (Amazon Bedrock Edition)"
    code = "8vzv0cyl2xk3t4kq2d4q5ty2f"
    assert [ai_columns(row) for row in rows] == [
        ("Amazon Bedrock", name, code, "Claude 3 Haiku", "input", 300_000.0, "Tokens"),
        ("Amazon Bedrock", name, code, "Claude 3 Haiku", "output", 1.0, "Tokens"),
        ("Amazon Bedrock", name, code, "Claude 3 Haiku", "cache_read", 1.0, "Tokens"),
        ("Amazon Bedrock", name, code, "Claude 3 Haiku", "cache_write", 1.0, "Tokens"),
    ]
    assert (rows[0]["BilledCost"], rows[0]["ChargeCategory"], rows[0]["x_UsageType"]) == (
        Decimal("0.750000000000"),
        "Usage",
        "USW2-MP:USW2_InputTokenCount-Units",
    )


def test_other_rows_keep_their_service_and_take_the_pricing_unit():
    rows = normalized(
        [
            {
                "line_item_product_code": "AmazonApiGateway",
                "product_product_name": "Amazon API Gateway",
                "line_item_usage_type": "USE1-ApiGatewayRequest",
                "line_item_usage_amount": 1331.0,
            },
            # Looks like a token usage type, but the product is not Bedrock: left alone.
            {
                "line_item_product_code": "AmazonSageMaker",
                "product_product_name": "Amazon SageMaker",
                "line_item_usage_type": "USE1-Endpoint-input-tokens",
                "line_item_usage_amount": 2.0,
            },
            # A Marketplace product that is not a Bedrock edition.
            {
                "line_item_product_code": "abc123marketplace",
                "product_product_name": "Some Firewall (AWS Marketplace)",
                "line_item_usage_type": "USE1-MP:USE1_InputTokenCount-Units",
                "line_item_usage_amount": 5.0,
            },
        ],
        pricing_unit=["Requests", "1K tokens", None],
    )
    assert [ai_columns(row) for row in rows] == [
        ("Amazon API Gateway", None, "AmazonApiGateway", None, None, 1331.0, "Requests"),
        ("Amazon SageMaker", None, "AmazonSageMaker", None, None, 2.0, "1K tokens"),
        ("Some Firewall (AWS Marketplace)", None, "abc123marketplace", None, None, 5.0, None),
    ]


def test_principal_tags_keep_their_full_key_next_to_user_tags():
    tags = [("user_team", "payments"), ("iamPrincipal/team", "search"), ("aws_createdBy", "alice")]
    assert one(line_item_unblended_cost=1.0, resource_tags=tags)["Tags"] == [
        ("team", "payments"),
        ("iamPrincipal/team", "search"),
        ("aws_createdBy", "alice"),
    ]


def test_the_tags_column_drops_only_the_resource_tag_prefix_and_falls_back_to_resource_tags_when_null():
    rows = normalized(
        [
            {"line_item_unblended_cost": 1.0, "resource_tags": [("user_team", "ignored-when-tags-present")]},
            {"line_item_unblended_cost": 1.0, "resource_tags": [("user_team", "payments")]},
        ],
        tags=[
            [
                ("resourceTags/user_team", "search"),
                ("resourceTags/app", "api"),
                ("iamPrincipal/team", "ml"),
                ("accountTag/env", "prod"),
                ("costCategory/unit", "R&D"),
            ],
            None,
        ],
    )
    assert [row["Tags"] for row in rows] == [
        [
            ("team", "search"),
            ("app", "api"),
            ("iamPrincipal/team", "ml"),
            ("accountTag/env", "prod"),
            ("costCategory/unit", "R&D"),
        ],
        [("team", "payments")],
    ]


def test_a_rule_can_place_bedrock_cost_by_principal_tag_then_by_principal():
    """The rules of docs/sources/aws.md, parsed as a user writes them. Row 0: tagged principal -> its tag.
    Row 1: untagged role -> the role name from x_IamPrincipal. Row 2: S3, neither -> leftover. $1.20, $0.30 and
    $2.00 each land whole."""
    bedrock = {
        "line_item_product_code": "AmazonBedrock",
        "product_product_name": "Amazon Bedrock",
        "line_item_usage_type": "USE1-Claude3Haiku-input-tokens",
    }
    costs = normalize(
        cur_table(
            [
                {
                    **bedrock,
                    "line_item_unblended_cost": 1.2,
                    "line_item_iam_principal": "arn:aws:sts::123456789012:assumed-role/Shared/alice",
                    "resource_tags": [("iamPrincipal/team", "search")],
                },
                {
                    **bedrock,
                    "line_item_unblended_cost": 0.3,
                    "line_item_iam_principal": "arn:aws:iam::123456789012:role/payments",
                },
                {
                    "line_item_product_code": "AmazonS3",
                    "line_item_unblended_cost": 2.0,
                    "line_item_iam_principal": "arn:aws:iam::123456789012:role/storage",
                },
            ]
        ),
        datasource_id="bds_1",
        billing_period="2026-01",
        partition_id=1,
    )
    definition = parse_definition(
        {
            "name": "team",
            "rules": [
                {
                    "name": "bedrock-principal-tag",
                    "conditions": [{"column": "tag:iamPrincipal/team", "operator": "EXISTS"}],
                    "from_column": {"column": "tag:iamPrincipal/team"},
                },
                {
                    "name": "bedrock-principal-role",
                    "conditions": [
                        {"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon Bedrock"]},
                        {"column": "x_IamPrincipal", "operator": "MATCHES", "values": [":role/"]},
                    ],
                    "from_column": {
                        "column": "x_IamPrincipal",
                        "mapping": {"strategy": "REGEX", "regex": ":role/(.+)$"},
                    },
                },
            ],
        },
        lambda name: None,
    )
    assert definition.findings == [] and definition.dimension is not None
    result = allocate(costs, definition.dimension).allocations
    assert [(r["row_id"], r["value"], r["amount"], r["rule"]) for r in result.to_pylist()] == [
        (0, "search", Decimal("1.20"), "bedrock-principal-tag"),
        (1, "payments", Decimal("0.30"), "bedrock-principal-role"),
        (2, "Unallocated", Decimal("2.00"), None),
    ]
