"""Plan logic and message mapping of the generic resource, on native values (no process, no network)."""

from __future__ import annotations

import pytest

from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from provider_shim.cty import UNKNOWN
from provider_shim.messages import from_message, to_message
from provider_shim.resources import Resource
from provider_shim.schema import provider_schema

DEFINITION = {
    "metric_name": "api_call_count",
    "gap_filling": "ZERO",
    "aggregation": "SUM",
    "value_column": "api_call_count",
    "date_column": "date",
    "dimensions": None,
    "unit": None,
}
CONFIG = {
    "id": None,
    "name": "API Usage",
    "bucket_name": "usage-exports",
    "prefix": None,
    "role_arn": "arn:aws:iam::123456789012:role/reader",
    "metrics_definition": [DEFINITION],
    "status": None,
    "type": None,
}
PRIOR = {
    **CONFIG,
    "id": "mds_1",
    "status": "OK",
    "type": "AwsS3V2",
    "prefix": "",
    "metrics_definition": [{**DEFINITION, "unit": "count"}],
}
"""As the state holds it after apply or import: the public provider's defaults filled in."""


@pytest.fixture
def resource():
    return Resource(provider_schema().resources["costory_metrics_datasource_s3_parquet"])


class TestPlan:
    def test_create_marks_computed_unknown_except_constants_and_fills_defaults(self, resource):
        planned, replace, diagnostics = resource.plan(None, CONFIG)
        assert planned == {
            **CONFIG,
            "id": UNKNOWN,
            "status": UNKNOWN,
            "type": "AwsS3V2",
            "prefix": "",
            "metrics_definition": [{**DEFINITION, "unit": "count"}],
        }
        assert (replace, diagnostics) == ([], [])

    def test_unchanged_configuration_plans_the_prior_state(self, resource):
        assert resource.plan(PRIOR, dict(PRIOR)) == (PRIOR, [], [])

    def test_omitted_defaults_plan_no_change_against_an_imported_state(self, resource):
        """The public provider's state holds `prefix = ""` and `unit = "count"`; a configuration that omits
        them is the same object (it used to plan `prefix = null # forces replacement`)."""
        assert resource.plan(PRIOR, {**CONFIG, "id": "mds_1", "status": "OK", "type": "AwsS3V2"}) == (PRIOR, [], [])

    def test_a_set_value_overrides_the_default(self, resource):
        planned, replace, _ = resource.plan(PRIOR, {**PRIOR, "prefix": "usage/"})
        assert (planned["prefix"], replace) == ("usage/", [("prefix",)])

    def test_metrics_definition_updates_in_place(self, resource):
        second = {**DEFINITION, "metric_name": "errors", "value_column": "errors"}
        planned, replace, _ = resource.plan(PRIOR, {**PRIOR, "metrics_definition": [DEFINITION, second]})
        defaulted = [{**DEFINITION, "unit": "count"}, {**second, "unit": "count"}]
        assert planned == {**PRIOR, "metrics_definition": defaulted, "status": UNKNOWN}
        assert replace == []

    @pytest.mark.parametrize("attribute", ["name", "bucket_name", "prefix", "role_arn"])
    def test_identity_attributes_force_replacement(self, resource, attribute):
        _, replace, _ = resource.plan(PRIOR, {**PRIOR, attribute: "arn:aws:iam::1:role/other"})
        assert replace == [(attribute,)]

    def test_an_unknown_replacing_attribute_forces_replacement(self, resource):
        _, replace, _ = resource.plan(PRIOR, {**PRIOR, "role_arn": UNKNOWN})
        assert replace == [("role_arn",)]

    def test_destroy_plans_null(self, resource):
        assert resource.plan(PRIOR, None) == (None, [], [])


class TestValidate:
    def test_unknown_values_are_checked_later(self, resource):
        config = {**CONFIG, "role_arn": UNKNOWN, "metrics_definition": [{**DEFINITION, "gap_filling": UNKNOWN}]}
        assert resource.validate(config) == []

    def test_wholly_unknown_list_is_checked_later(self, resource):
        assert resource.validate({**CONFIG, "metrics_definition": UNKNOWN}) == []


class TestMessages:
    def test_round_trip_keeps_nulls_and_order(self, resource):
        attributes = resource.type.attributes
        value = {**PRIOR, "prefix": "metrics/", "metrics_definition": [DEFINITION, {**DEFINITION, "metric_name": "b"}]}
        message = to_message(pb.MetricsDatasource(id="mds_1", status="OK", type="AwsS3V2"), attributes, value)
        assert not message.metrics_definition[0].HasField("unit")
        defaulted = [{**d, "unit": "count"} for d in value["metrics_definition"]]
        assert from_message(message, attributes, value) == {**value, "metrics_definition": defaulted}

    @pytest.mark.parametrize(
        ("held", "expected"), [(None, None), ([], [])], ids=["null-stays-null", "empty-stays-empty"]
    )
    def test_empty_list_follows_what_terraform_holds(self, resource, held, expected):
        attributes = resource.type.attributes
        value = {**PRIOR, "metrics_definition": [{**DEFINITION, "dimensions": held}]}
        message = to_message(pb.MetricsDatasource(id="mds_1"), attributes, value)
        assert from_message(message, attributes, value)["metrics_definition"][0]["dimensions"] == expected


class TestApply:
    def test_nothing_to_nothing_calls_nothing(self, resource):
        class NoControlPlane:
            def call(self, *args, **kwargs):
                raise AssertionError("no call expected")

        assert resource.apply(NoControlPlane(), None, None) == (None, [])

    def test_validate_reports_the_input_rules_as_problems_on_their_attribute(self, resource):
        [problem] = resource.validate({**CONFIG, "name": " "})

        assert (problem.path, problem.summary, problem.detail, problem.is_error) == (
            ("name",),
            "Empty Value",
            "`name` must not be empty.",
            True,
        )
