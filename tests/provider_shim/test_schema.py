"""The Terraform schema derived from the proto descriptors, checked attribute by attribute."""

from __future__ import annotations

import json

from costory_proto import tfplugin6_pb2 as tf
from provider_shim import wire
from provider_shim.schema import provider_schema

RESOURCE = "costory_metrics_datasource_s3_parquet"
RESOURCES = [
    "costory_alert",
    "costory_billing_datasource_anthropic",
    "costory_billing_datasource_aws",
    "costory_billing_datasource_azure",
    "costory_billing_datasource_cursor",
    "costory_billing_datasource_elastic_cloud",
    "costory_billing_datasource_gcp",
    "costory_billing_datasource_openai",
    "costory_budget",
    "costory_dashboard",
    "costory_metrics_datasource_s3_parquet",
    "costory_report",
    "costory_team",
    "costory_team_member",
    "costory_virtual_dimension",
]
"""Every resource type the provider serves."""


def flags(schema: tf.Schema) -> dict[str, tuple]:
    return {
        a.name: (json.loads(a.type), a.required, a.optional, a.computed, a.sensitive) for a in schema.block.attributes
    }


def test_types_found_in_the_proto():
    schema = provider_schema()
    assert schema.provider.type_name == "costory"
    assert sorted(schema.resources) == RESOURCES
    assert sorted(schema.data_sources) == ["costory_service_account"]


def test_provider_block():
    assert flags(wire.schema(provider_schema().provider)) == {
        # token is required in effect, but may come from COSTORY_TOKEN, so the schema says optional.
        "token": ("string", False, True, False, True),
        "base_url": ("string", False, True, False, False),
    }


def test_metrics_datasource_attributes():
    definition = [
        "object",
        {
            "aggregation": "string",
            "date_column": "string",
            "dimensions": ["list", "string"],
            "gap_filling": "string",
            "metric_name": "string",
            "unit": "string",
            "value_column": "string",
        },
        ["dimensions", "unit"],
    ]
    assert flags(wire.schema(provider_schema().resources[RESOURCE])) == {
        "id": ("string", False, False, True, False),
        "name": ("string", True, False, False, False),
        "bucket_name": ("string", True, False, False, False),
        "prefix": ("string", False, True, True, False),  # O C, default ""
        "role_arn": ("string", True, False, False, False),
        # A plain list(object) attribute, so Terraform also accepts repeated blocks for it.
        "metrics_definition": (["list", definition], True, False, False, False),
        "status": ("string", False, False, True, False),
        "type": ("string", False, False, True, False),
    }


def test_plan_modifiers_come_from_the_proto():
    resource = provider_schema().resources[RESOURCE]
    assert [a.name for a in resource.attributes if a.requires_replace] == ["name", "bucket_name", "prefix", "role_arn"]
    assert [a.name for a in resource.attributes if a.use_state_for_unknown] == ["id"]
    assert {a.name: a.constant for a in resource.attributes if a.constant} == {"type": "AwsS3V2"}


def test_service_account_data_source():
    assert flags(wire.schema(provider_schema().data_sources["costory_service_account"])) == {
        "service_account": ("string", False, False, True, False),
        "sub_ids": (["list", "string"], False, False, True, False),
    }


def test_every_attribute_is_documented():
    schema = provider_schema()
    for terraform_type in [schema.provider, *schema.resources.values(), *schema.data_sources.values()]:
        assert terraform_type.description
        for attribute in terraform_type.attributes:
            assert attribute.description, f"{terraform_type.type_name}.{attribute.name}"
            for nested in attribute.nested:
                assert nested.description, f"{terraform_type.type_name}.{attribute.name}.{nested.name}"


def test_reference_docs_are_up_to_date():
    from provider_shim.docs import DOCS, documents

    stale = [
        str(rel) for rel, text in documents().items() if not (DOCS / rel).exists() or (DOCS / rel).read_text() != text
    ]
    assert stale == [], f"run `python -m provider_shim.docs`: {stale}"


# The public provider's flags (v0.2.11 and its newer commits), as /work/shared/reference/costory-provider.md lists
# them: attribute -> (type, required, optional, computed, sensitive, requires_replace).
R, OPT, C, S, RR = "R", "O", "C", "S", "RR"
PUBLIC_BILLING_RESOURCES = {
    "costory_billing_datasource_gcp": {
        "id": (C,),
        "status": (C,),
        "name": (R, RR),
        "bq_uri": (R, RR),
        "is_detailed_billing": (OPT, RR),
        "start_date": (OPT, RR),
        "end_date": (OPT, RR),
    },
    "costory_billing_datasource_azure": {
        "id": (C,),
        "status": (C,),
        "name": (R, RR),
        "storage_account_name": (R, RR),
        "container_name": (R, RR),
        "actuals_path": (R, RR),
        "amortized_path": (R, RR),
        "sas_url": (R, S, RR),
    },
    "costory_billing_datasource_anthropic": {
        "id": (C,),
        "status": (C,),
        "name": (R, RR),
        "admin_api_key": (R, S, RR),
        "type": (C,),
        "bq_table_uri": (C, S),
        "start_date": (OPT, RR),
        "end_date": (OPT, RR),
    },
    "costory_billing_datasource_cursor": {
        "id": (C,),
        "status": (C,),
        "name": (R, RR),
        "admin_api_key": (R, S, RR),
        "type": (C,),
        "bq_table_uri": (C, S),
        "start_date": (OPT, RR),
        "end_date": (OPT, RR),
    },
    "costory_billing_datasource_elastic_cloud": {
        "id": (C,),
        "status": (C,),
        "name": (R, RR),
        "organization_id": (R, RR),
        "api_key": (R, S, RR),
        "type": (C,),
        "bq_table_uri": (C, S),
        "start_date": (OPT, RR),
    },
    "costory_billing_datasource_openai": {
        "id": (C,),
        "status": (C,),
        "name": (R, RR),
        "admin_api_key": (R, S, RR),
        "type": (C,),
        "bq_table_uri": (C, S),
        "start_date": (OPT, RR),
    },
}
BOOLEANS = {"is_detailed_billing"}


def test_billing_datasources_match_the_public_provider_flag_for_flag():
    resources = provider_schema().resources
    for type_name, expected in PUBLIC_BILLING_RESOURCES.items():
        terraform_type = resources[type_name]
        actual = {
            a.name: tuple(
                flag
                for flag, on in (
                    (R, a.required),
                    (OPT, a.optional),
                    (C, a.computed),
                    (S, a.sensitive),
                    (RR, a.requires_replace),
                )
                if on
            )
            for a in terraform_type.attributes
        }
        assert actual == expected, type_name
        types = {a.name: json.loads(wire._attribute(a).type) for a in terraform_type.attributes}
        assert types == {n: "bool" if n in BOOLEANS else "string" for n in expected}, type_name


def test_source_types_are_known_at_plan_time():
    resources = provider_schema().resources
    assert {
        name: next(a.constant for a in resources[name].attributes if a.name == "type")
        for name in PUBLIC_BILLING_RESOURCES
        if name not in ("costory_billing_datasource_gcp", "costory_billing_datasource_azure")
    } == {
        "costory_billing_datasource_anthropic": "Anthropic",
        "costory_billing_datasource_cursor": "Cursor",
        "costory_billing_datasource_elastic_cloud": "ElasticCloud",
        "costory_billing_datasource_openai": "OpenAI",
    }
