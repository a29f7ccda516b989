"""CUR 2.0 rows -> normalized cost rows, column by column, on hand-built tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from control_plane.billing.cur import NotACurFile, billing_period_of, normalize
from control_plane.billing.sample import cur_table, guide_cur
from control_plane.billing.schema import COST_SCHEMA


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
        "x_ProductCode": "AmazonApiGateway",
        "x_UsageType": "USE1-ApiGatewayRequest",
        "x_Operation": "ApiGatewayRequest",
        "x_LineItemType": "Usage",
        "x_IamPrincipal": "arn:aws:iam::123456789012:role/payments",
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
        normalize(pa.table({"line_item_usage_start_date": [datetime(2026, 1, 1)]}), datasource_id="d", billing_period="2026-01", partition_id=1)


def test_billing_period_from_the_key_then_from_the_data():
    table = guide_cur()
    assert billing_period_of("cur/exp/data/BILLING_PERIOD=2025-12/exp-00001.snappy.parquet", table) == "2025-12"
    assert billing_period_of("cur/somewhere/file.parquet", table) == "2026-01"
