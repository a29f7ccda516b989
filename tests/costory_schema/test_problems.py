"""One type for "a problem at a path", shared by the provider (diagnostics) and the control plane (findings,
INVALID_ARGUMENT violations)."""

from __future__ import annotations

import pytest

from costory_proto import tfplugin6_pb2 as tf
from costory_proto.costory.v1 import metrics_datasource_pb2
from costory_schema import rules
from costory_schema.problems import Problem, Severity, errors_in, format_path, warnings_in


@pytest.mark.parametrize(
    ("path", "field"),
    [
        pytest.param((), "", id="whole-object"),
        pytest.param(("name",), "name", id="attribute"),
        pytest.param(("metrics_definition", 1, "gap_filling"), "metrics_definition[1].gap_filling", id="nested"),
        pytest.param(("rules", 0, "split_percent", "Team A"), "rules[0].split_percent.Team A", id="map-key"),
    ],
)
def test_the_path_reads_as_a_field(path, field):
    assert format_path(path) == field
    assert Problem(path, "Invalid Value", "detail").field == field


def test_errors_by_default_warnings_by_name():
    error = Problem(("name",), "Empty Value", "`name` must not be empty.")
    warning = Problem.warning(("rules", 1), "Rule Matches No Cost", "Rule `b` matched none of the 3 cost rows.")

    assert (error.severity, error.is_error, warning.severity, warning.is_error) == (
        Severity.ERROR,
        True,
        Severity.WARNING,
        False,
    )
    assert Severity.WARNING == "WARNING"  # stored and compared as its name
    assert (errors_in([warning, error]), warnings_in([warning, error])) == ([error], [warning])


def test_the_input_rules_report_problems():
    message = metrics_datasource_pb2.MetricsDatasource.DESCRIPTOR

    problems = rules.check(message, {"name": " ", "bucket_name": "b", "role_arn": "arn:aws:iam::1:role/r"})

    assert problems[0] == Problem(("name",), "Empty Value", "`name` must not be empty.")


def test_problem_is_the_only_name():
    """The former aliases (`rules.Violation`, `findings.Finding`) are gone: one type, one name."""
    from control_plane import findings

    assert (hasattr(rules, "Violation"), hasattr(findings, "Finding")) == (False, False)


def test_a_problem_is_a_provider_diagnostic_on_its_attribute():
    from provider_shim import wire
    from provider_shim.diagnostics import Diagnostic, warning

    [encoded] = wire.diagnostics([warning("No Parquet Files Yet", "None yet.", ("prefix",))])

    assert Diagnostic is Problem
    assert (encoded.severity, encoded.summary, encoded.detail) == (
        tf.Diagnostic.WARNING,
        "No Parquet Files Yet",
        "None yet.",
    )
    assert [step.attribute_name for step in encoded.attribute.steps] == ["prefix"]


def test_raise_errors_refuses_the_errors_and_returns_the_warnings():
    from control_plane.errors import InvalidArgument
    from control_plane.findings import raise_errors

    error = Problem(("rules", 0, "conditions", 0, "values", 0), "Invalid Regular Expression", "`(?=a)` is not RE2.")
    warning = Problem.warning(("rules", 1), "Rule Matches No Cost", "Rule `b` matched none of the 3 cost rows.")

    assert raise_errors([warning]) == [warning]
    with pytest.raises(InvalidArgument) as refused:
        raise_errors([warning, error])
    assert refused.value.violations == [error]
    assert str(refused.value) == "rules[0].conditions[0].values[0]: `(?=a)` is not RE2."
