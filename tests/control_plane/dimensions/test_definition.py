"""A VirtualDimension's rules as written in Terraform -> the engine's model, and every problem on the
attribute path Terraform underlines."""

from __future__ import annotations

import pytest

from control_plane.allocation import (
    AllocationKind,
    Always,
    And,
    Equals,
    Exists,
    In,
    MappingStrategy,
    Matches,
    Not,
)
from control_plane.dimensions.definition import MetricSource, parse_definition

METRICS = {"mds_1": {"API Usage": ["team", "region"]}}


def lookup(datasource_id):
    return METRICS.get(datasource_id)


def gateway_rule(**overrides):
    rule = {
        "name": "gateway",
        "conditions": [{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon API Gateway"]}],
        "metric_split": {"metrics_datasource_id": "mds_1", "metric_name": "API Usage", "dimension": "team"},
    }
    return {**rule, **overrides}


def parse(*rules, unknown=(), **fields):
    return parse_definition({"name": "team", "rules": list(rules), **fields}, lookup, unknown)


def problems(definition):
    return [(f.path, f.summary, f.detail) for f in definition.findings]


def test_every_allocation_kind_and_operator_builds_the_engine_rules_in_order():
    definition = parse(
        gateway_rule(),
        {
            "name": "tagged",
            "conditions": [{"column": "tag:team", "operator": "EXISTS"}],
            "from_column": {"column": "tag:team", "mapping": {"strategy": "REGEX", "regex": "^([a-z]+)-svc$"}},
        },
        {
            "name": "db",
            "conditions": [
                {"column": "ResourceId", "operator": "MATCHES", "values": ["^db-"]},
                {"column": "RegionId", "operator": "NOT_IN", "values": ["us-east-1", "eu-west-1"]},
            ],
            "split_percent": {"payments": 60.0, "search": 40.0},
        },
        {
            "name": "support",
            "conditions": [{"column": "x_UsageType", "operator": "NOT_EXISTS"}],
            "split_even": ["a", "b"],
        },
        {
            "name": "manual",
            "from_column": {"column": "SubAccountId", "mapping": {"strategy": "MANUAL", "table": {"111": "x"}}},
        },
        {"name": "rest", "value": "platform"},
        leftover_value="Nobody",
    )
    assert problems(definition) == []
    dimension = definition.dimension
    assert dimension.leftover == "Nobody"
    assert [r.name for r in dimension.rules] == ["gateway", "tagged", "db", "support", "manual", "rest"]
    gateway, tagged, db, support, manual, rest = dimension.rules
    assert gateway.condition == Equals("ServiceName", "Amazon API Gateway")
    assert gateway.allocation.kind is AllocationKind.METRIC
    assert definition.metric_sources == {"gateway": MetricSource("mds_1", "API Usage", "team")}
    assert tagged.condition == Exists("tag:team")
    assert tagged.allocation.mapping.strategy is MappingStrategy.REGEX
    assert db.condition == And(Matches("ResourceId", "^db-"), Not(In("RegionId", ("us-east-1", "eu-west-1"))))
    assert db.allocation.kind is AllocationKind.SPLIT_PERCENT
    assert support.condition == Not(Exists("x_UsageType"))
    assert support.allocation.values == ("a", "b")
    assert manual.condition == Always()
    assert manual.allocation.mapping.table == {"111": "x"}
    assert rest.allocation.value == "platform"


def test_leftover_defaults_to_unallocated():
    assert parse({"name": "all", "value": "x"}).dimension.leftover == "Unallocated"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"name": "r", "conditions": [{"column": "Team", "operator": "EQUALS", "values": ["a"]}], "value": "x"},
            (("rules", 0, "conditions", 0, "column"), "Unknown Column"),
        ),
        (
            {
                "name": "r",
                "conditions": [{"column": "BilledCost", "operator": "EQUALS", "values": ["1"]}],
                "value": "x",
            },
            (("rules", 0, "conditions", 0, "column"), "Invalid Column"),
        ),
        (
            {
                "name": "r",
                "conditions": [{"column": "ResourceId", "operator": "MATCHES", "values": ["(unclosed"]}],
                "value": "x",
            },
            (("rules", 0, "conditions", 0, "values", 0), "Invalid Regular Expression"),
        ),
        (
            {
                "name": "r",
                "conditions": [{"column": "RegionId", "operator": "EQUALS", "values": ["a", "b"]}],
                "value": "x",
            },
            (("rules", 0, "conditions", 0, "values"), "Wrong Number Of Values"),
        ),
        (
            {"name": "r", "conditions": [{"column": "RegionId", "operator": "EXISTS", "values": ["a"]}], "value": "x"},
            (("rules", 0, "conditions", 0, "values"), "Wrong Number Of Values"),
        ),
        (
            {"name": "r", "split_percent": {"a": 50.0, "b": 40.0}},
            (("rules", 0, "split_percent"), "Percentages Must Sum To 100"),
        ),
        (
            {"name": "r", "split_percent": {"a": 120.0, "b": -20.0}},
            (("rules", 0, "split_percent", "b"), "Invalid Percentage"),
        ),
        ({"name": "r", "split_even": ["a", "a"]}, (("rules", 0, "split_even", 1), "Duplicate Value")),
        (
            {
                "name": "r",
                "from_column": {"column": "tag:team", "mapping": {"strategy": "REGEX", "regex": "^team-.+$"}},
            },
            (("rules", 0, "from_column", "mapping", "regex"), "Missing Capture Group"),
        ),
        (
            {"name": "r", "from_column": {"column": "tag:team", "mapping": {"strategy": "MANUAL"}}},
            (("rules", 0, "from_column", "mapping", "table"), "Missing Mapping Table"),
        ),
        (
            gateway_rule(
                metric_split={"metrics_datasource_id": "mds_9", "metric_name": "API Usage", "dimension": "team"}
            ),
            (("rules", 0, "metric_split", "metrics_datasource_id"), "Unknown Metrics Datasource"),
        ),
        (
            gateway_rule(metric_split={"metrics_datasource_id": "mds_1", "metric_name": "Calls", "dimension": "team"}),
            (("rules", 0, "metric_split", "metric_name"), "Unknown Metric"),
        ),
        (
            gateway_rule(
                metric_split={"metrics_datasource_id": "mds_1", "metric_name": "API Usage", "dimension": "owner"}
            ),
            (("rules", 0, "metric_split", "dimension"), "Unknown Metric Dimension"),
        ),
    ],
)
def test_each_problem_is_reported_on_its_path(rule, expected):
    definition = parse(rule)
    assert [(f.path, f.summary) for f in definition.findings] == [expected]
    assert definition.dimension is None


def test_messages_say_what_to_do():
    definition = parse(
        {"name": "r", "conditions": [{"column": "BilledCost", "operator": "EQUALS", "values": ["1"]}], "value": "x"},
        {"name": "s", "split_percent": {"a": 50.0, "b": 40.5}},
        {"name": "t", "value": "x", "split_even": ["a"]},
        {"name": "u"},
    )
    details = [f.detail for f in definition.findings]
    assert details[0].startswith("`BilledCost` is a number column; rules compare text. Use one of `ServiceName`")
    assert details[1:] == [
        "The percentages sum to 90.5; make them sum to exactly 100.",
        "A rule sets exactly one of `value`, `from_column`, `split_percent`, `split_even`, `metric_split`; "
        "rule `t` sets `value`, `split_even`.",
        "A rule sets exactly one of `value`, `from_column`, `split_percent`, `split_even`, `metric_split`; "
        "rule `u` sets none.",
    ]


def test_values_unknown_at_plan_time_skip_the_checks_that_need_them():
    rule = gateway_rule(metric_split={"metrics_datasource_id": "", "metric_name": "API Usage", "dimension": "team"})
    definition = parse(rule, unknown=["rules[0].metric_split.metrics_datasource_id"])
    assert problems(definition) == []
    known_but_wrong = parse(rule)
    assert [f.path for f in known_but_wrong.findings] == [("rules", 0, "metric_split", "metrics_datasource_id")]


def test_a_dimension_without_rules_is_refused():
    assert [(f.path, f.summary) for f in parse().findings] == [(("rules",), "No Rules")]
