"""Validation of the rule model: every error names the path of the offending field."""

from __future__ import annotations

import pytest

from control_plane.allocation import (
    Allocation,
    Always,
    And,
    Equals,
    Exists,
    In,
    MappingStrategy,
    Matches,
    Not,
    Rule,
    RuleError,
    ValueMapping,
    VirtualDimension,
)


def test_split_percent_not_summing_to_100_names_the_rule():
    with pytest.raises(RuleError) as caught:
        Rule("shared", Always(), Allocation.split_percent({"a": 60, "b": 30}))
    assert caught.value.path == "rules[shared].allocation.percentages"
    assert "sum to 90" in caught.value.message


def test_split_percent_summing_to_100_with_decimals_is_valid():
    Rule("shared", Always(), Allocation.split_percent({"a": 33.3, "b": "33.3", "c": 33.4}))


def test_bad_regex_in_condition():
    with pytest.raises(RuleError) as caught:
        Rule("r", And(Always(), Matches("ServiceName", "(unclosed")), Allocation.fixed("x"))
    assert caught.value.path == "rules[r].condition.operands[1].regex"
    assert "invalid regular expression" in caught.value.message


def test_mapping_regex_needs_a_capture_group():
    with pytest.raises(RuleError) as caught:
        Rule("r", Always(), Allocation.from_column("ResourceId", ValueMapping(MappingStrategy.REGEX, regex="team-.*")))
    assert caught.value.path == "rules[r].allocation.mapping.regex"


@pytest.mark.parametrize(
    "condition, path",
    [
        pytest.param(Equals("Service", "x"), "rules[r].condition.column", id="equals"),
        pytest.param(Not(In("Region", ("a",))), "rules[r].condition.operand.column", id="not-in"),
        pytest.param(Equals("tag:", "x"), "rules[r].condition.column", id="empty-tag"),
    ],
)
def test_unknown_column(condition, path):
    with pytest.raises(RuleError) as caught:
        Rule("r", condition, Allocation.fixed("x"))
    assert caught.value.path == path


def test_unknown_column_in_from_column():
    with pytest.raises(RuleError) as caught:
        Rule("r", Always(), Allocation.from_column("Owner"))
    assert caught.value.path == "rules[r].allocation.column"
    assert "unknown column 'Owner'" in caught.value.message


def test_manual_mapping_needs_a_table():
    with pytest.raises(RuleError) as caught:
        Rule("r", Always(), Allocation.metric(ValueMapping(MappingStrategy.MANUAL)))
    assert caught.value.path == "rules[r].allocation.mapping.table"


def test_split_even_values_must_be_distinct():
    with pytest.raises(RuleError) as caught:
        Rule("r", Always(), Allocation.split_even(["a", "a"]))
    assert caught.value.path == "rules[r].allocation.values"


def test_duplicate_rule_names():
    rule = Rule("r", Always(), Allocation.fixed("x"))
    with pytest.raises(RuleError) as caught:
        VirtualDimension("team", (rule, rule))
    assert caught.value.path == "rules[1].name"


def test_tag_reference_is_valid():
    Rule("r", Equals("tag:team", "a"), Allocation.from_column("tag:team"))


def test_exists_needs_a_known_column_or_tag():
    with pytest.raises(RuleError) as caught:
        Rule("r", Not(Exists("Owner")), Allocation.fixed("x"))
    assert caught.value.path == "rules[r].condition.operand.column"
    assert Exists("tag:team").references() == frozenset({"tag:team"})
    Rule("r", Exists("tag:team"), Allocation.from_column("tag:team"))
