"""The rule model's plain behaviour: what a rule reads, how raw values map, and RE2 regular expressions
(linear time, refused patterns named). Validation of what a user writes is tested in
tests/control_plane/dimensions/test_definition.py, the one place it happens."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from control_plane.allocation import (
    Allocation,
    AllocationError,
    Always,
    And,
    Equals,
    Exists,
    MappingStrategy,
    Matches,
    Not,
    Rule,
    ValueMapping,
    VirtualDimension,
)
from control_plane.allocation.engine import evaluate
from control_plane.allocation.regex import RegexError, capture_groups, search

RAW = pa.array(["team-payments-1", "team-search", "platform", None, "team-", "x\nteam-db"], pa.string())


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param(
            ValueMapping(),
            ["team-payments-1", "team-search", "platform", None, "team-", "x\nteam-db"],
            id="identity",
        ),
        pytest.param(
            ValueMapping(MappingStrategy.REGEX, regex=r"team-([a-z]*)"),
            ["payments", "search", None, None, None, "db"],  # no match, and an empty group, map to nothing
            id="regex-first-group-searched-anywhere",
        ),
        pytest.param(
            ValueMapping(MappingStrategy.REGEX, regex=r"^(platform)$|team"),
            [None, None, "platform", None, None, None],  # a match where group 1 took no part maps to nothing
            id="regex-group-not-taking-part",
        ),
        pytest.param(
            ValueMapping(MappingStrategy.MANUAL, table={"platform": "Platform", "team-search": ""}),
            [None, None, "Platform", None, None, None],
            id="manual-absent-or-empty-maps-to-nothing",
        ),
    ],
)
def test_a_mapping_maps_a_whole_column(mapping, expected):
    assert mapping.map(RAW).to_pylist() == expected
    assert [mapping.apply(raw) for raw in RAW.to_pylist()] == expected


def test_references_are_the_columns_and_tags_a_rule_reads():
    rule = Rule(
        "r",
        And(Equals("ServiceName", "x"), Not(Exists("tag:team")), Matches("ResourceId", "^db-")),
        Allocation.from_column("tag:owner"),
    )
    assert rule.references() == frozenset({"ServiceName", "tag:team", "ResourceId", "tag:owner"})
    assert VirtualDimension("team", (rule, Rule("rest", Always(), Allocation.fixed("x")))).references() == (
        rule.references()
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param(r"(a)\1", r"invalid escape sequence: \1", id="backreference"),
        pytest.param(r"(?=team)t", "invalid perl operator: (?=", id="lookahead"),
        pytest.param(r"(?<!x)team", "invalid perl operator: (?<!", id="lookbehind"),
        pytest.param(r"a{100000}", "invalid repetition size: {100000}", id="repetition-overflow"),
        pytest.param(r"((a{100}){100}){100}", "invalid repetition size: {100}", id="nested-repetition"),
        pytest.param(r"team\Z", r"invalid escape sequence: \Z", id="python-only-escape"),
        pytest.param("(unclosed", "missing ): (unclosed", id="unbalanced"),
    ],
)
def test_re2_refuses_what_it_cannot_run_in_linear_time_and_says_why(pattern, reason):
    with pytest.raises(RegexError) as refused:
        capture_groups(pattern)
    assert str(refused.value) == (
        f"`{pattern}` is not a valid RE2 regular expression ({reason}). RE2 syntax "
        "(github.com/google/re2/wiki/Syntax) has no backreferences or lookaround, and repetition counts up to 1000."
    )
    assert isinstance(refused.value, AllocationError)  # never a bare exception, whatever reaches it


def test_re2_counts_capture_groups_named_or_not():
    assert [capture_groups(p) for p in ("^db-", "^team-(.+)$", "(?P<team>[a-z]+)-(\\d+)")] == [0, 1, 2]


def test_a_catastrophic_pattern_for_backtracking_runs_in_linear_time():
    # (a+)+$ against "aaa…ab…" takes exponential time with a backtracking engine (Python `re`): about 2**30
    # steps for one value of 30 a's. 10,000 distinct values of 31 to 55 characters...
    values = pa.array([f"{'a' * (30 + i % 20)}b{i}" for i in range(10_000)], pa.string())
    keys = pa.table({"ResourceId": values})
    started = time.perf_counter()
    matched = evaluate(Matches("ResourceId", "(a+)+$"), keys)
    elapsed = time.perf_counter() - started
    # ...none ends with an `a`, so none matches; RE2 reads each value once.
    assert (matched.dtype, int(np.count_nonzero(matched)), len(matched)) == (np.dtype(bool), 0, 10_000)
    plain = time.perf_counter()
    evaluate(Matches("ResourceId", "b"), keys)
    baseline = time.perf_counter() - plain
    assert elapsed < 20 * baseline + 0.5  # the same order as a trivial pattern over the same text


def test_search_keeps_nulls_null_and_matches_anywhere():
    assert search(RAW, "team-(search|db)").to_pylist() == [False, True, False, None, False, True]
