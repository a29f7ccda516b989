"""The engine on hand-worked tables; each test draws its input in a comment and pins the expected totals."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from control_plane.allocation import (
    Allocation,
    AllocationError,
    Always,
    Equals,
    In,
    MappingStrategy,
    Matches,
    Not,
    Or,
    Rule,
    ValueMapping,
    VirtualDimension,
    allocate,
    largest_remainder,
    preview_split,
)
from control_plane.allocation.engine import ALLOCATIONS_SCHEMA

from .helpers import DAY1, DAY2, costs, rows_of, totals, usage

# row | ServiceName | ResourceId        | Tags            | BilledCost
#  0  | EC2         | i-team-a-web      | team=a          | 10.00
#  1  | EC2         | i-team-b-db       | team=b          | 20.00
#  2  | S3          | bucket-logs       | (none)          |  5.00
#  3  | Gateway     | gw-1              | (none)          |  1.00
FOUR_ROWS = costs(
    {"ServiceName": "EC2", "ResourceId": "i-team-a-web", "Tags": {"team": "a"}, "BilledCost": "10.00"},
    {"ServiceName": "EC2", "ResourceId": "i-team-b-db", "Tags": {"team": "b"}, "BilledCost": "20.00"},
    {"ServiceName": "S3", "ResourceId": "bucket-logs", "BilledCost": "5.00"},
    {"ServiceName": "Gateway", "ResourceId": "gw-1", "BilledCost": "1.00"},
)


def team(*rules: Rule, leftover: str = "Unallocated") -> VirtualDimension:
    return VirtualDimension("team", rules, leftover)


class TestKinds:
    def test_fixed_and_leftover(self):
        # EC2 -> compute; rows 2 and 3 match nothing -> Unallocated (rule null)
        result = allocate(FOUR_ROWS, team(Rule("ec2", Equals("ServiceName", "EC2"), Allocation.fixed("compute"))))
        assert rows_of(result) == [
            (0, "compute", "10.00", "ec2"),
            (1, "compute", "20.00", "ec2"),
            (2, "Unallocated", "5.00", None),
            (3, "Unallocated", "1.00", None),
        ]
        assert result.allocations.schema == ALLOCATIONS_SCHEMA
        assert result.warnings == []

    def test_custom_leftover_value(self):
        result = allocate(FOUR_ROWS, team(leftover="nobody"))
        assert totals(result) == {"nobody": "36.00"}

    def test_from_column_identity_on_a_tag(self):
        # team tag: a=10, b=20, rows 2 and 3 have no tag -> Unallocated, with a warning
        result = allocate(FOUR_ROWS, team(Rule("by-tag", Always(), Allocation.from_column("tag:team"))))
        assert totals(result) == {"Unallocated": "6.00", "a": "10.00", "b": "20.00"}
        assert rows_of(result)[2] == (2, "Unallocated", "5.00", "by-tag")
        assert result.warnings == ["rule by-tag: 2 rows whose tag:team maps to nothing went to Unallocated"]

    def test_from_column_regex_first_capture_group(self):
        # i-team-a-web -> a, i-team-b-db -> b, bucket-logs and gw-1 don't match -> Unallocated
        mapping = ValueMapping(MappingStrategy.REGEX, regex=r"team-(\w)-")
        result = allocate(FOUR_ROWS, team(Rule("by-id", Always(), Allocation.from_column("ResourceId", mapping))))
        assert totals(result) == {"Unallocated": "6.00", "a": "10.00", "b": "20.00"}

    def test_from_column_manual(self):
        # EC2 -> platform, S3 -> data, Gateway unmapped -> Unallocated
        mapping = ValueMapping(MappingStrategy.MANUAL, table={"EC2": "platform", "S3": "data"})
        result = allocate(FOUR_ROWS, team(Rule("svc", Always(), Allocation.from_column("ServiceName", mapping))))
        assert totals(result) == {"Unallocated": "1.00", "data": "5.00", "platform": "30.00"}

    def test_split_percent(self):
        # S3 row 5.00 split 50/30/20 -> 2.50 / 1.50 / 1.00; the rest Unallocated
        rule = Rule("s3", Equals("ServiceName", "S3"), Allocation.split_percent({"a": 50, "b": 30, "c": 20}))
        result = allocate(FOUR_ROWS, team(rule))
        assert [r for r in rows_of(result) if r[0] == 2] == [
            (2, "a", "2.50", "s3"),
            (2, "b", "1.50", "s3"),
            (2, "c", "1.00", "s3"),
        ]
        assert totals(result) == {"Unallocated": "31.00", "a": "2.50", "b": "1.50", "c": "1.00"}

    def test_split_even_ten_cents_in_three(self):
        # 0.10 / 3 = 0.0333… each: floors 3+3+3 = 9, the one cent left goes to the first value by name ("a")
        table = costs({"BilledCost": "0.10"})
        result = allocate(table, team(Rule("even", Always(), Allocation.split_even(["c", "a", "b"]))))
        assert rows_of(result) == [(0, "a", "0.04", "even"), (0, "b", "0.03", "even"), (0, "c", "0.03", "even")]

    def test_conditions_in_matches_not_or(self):
        # In(EC2,S3) & not team=b -> rows 0, 2;  Matches ^gw- -> row 3; row 1 unmatched
        rules = (
            Rule("gw", Matches("ResourceId", "^gw-"), Allocation.fixed("edge")),
            Rule(
                "storage-or-a",
                Or(In("ServiceName", ("S3",)), Not(Equals("tag:team", "b"))),
                Allocation.fixed("core"),
            ),
        )
        result = allocate(FOUR_ROWS, team(*rules))
        assert [(r[0], r[1]) for r in rows_of(result)] == [(0, "core"), (1, "Unallocated"), (2, "core"), (3, "edge")]

    def test_first_match_wins(self):
        # both rules match row 0 (EC2 with team=a); whichever comes first takes it
        by_service = Rule("svc", Equals("ServiceName", "EC2"), Allocation.fixed("compute"))
        by_tag = Rule("tag", Equals("tag:team", "a"), Allocation.fixed("a"))
        first = allocate(FOUR_ROWS, team(by_service, by_tag))
        second = allocate(FOUR_ROWS, team(by_tag, by_service))
        assert rows_of(first)[0] == (0, "compute", "10.00", "svc")
        assert rows_of(second)[0] == (0, "a", "10.00", "tag")

    def test_float_costs_are_rounded_half_even_to_cents(self):
        # 0.125 -> 0.12, 0.135 -> 0.14 (half to even, read as written), 0.005 -> 0.00
        table = costs({}, {}, {}).set_column(2, "BilledCost", pa.array([0.125, 0.135, 0.005], pa.float64()))
        result = allocate(table, team())
        assert [r[2] for r in rows_of(result)] == ["0.12", "0.14", "0.00"]

    def test_row_id_is_added_when_absent_and_empty_table_works(self):
        table = FOUR_ROWS.drop_columns(["row_id"])
        assert [r[0] for r in rows_of(allocate(table, team()))] == [0, 1, 2, 3]
        assert allocate(FOUR_ROWS.slice(0, 0), team()).allocations.num_rows == 0

    def test_duplicate_row_ids_are_refused(self):
        table = FOUR_ROWS.set_column(0, "row_id", pa.array([1, 1, 2, 3], pa.int64()))
        with pytest.raises(AllocationError, match="unique"):
            allocate(table, team())


class TestMetric:
    # The guide's example: one day, a shared API gateway costing $1,000,
    # API calls: Team_A 1081+1330+1201+505 = 4117, Team_B 983 (total 5100).
    #
    #   owner  | calls | share      | amount
    #   Team_A | 4117  | 0.80725490 | 807.25
    #   Team_B |  983  | 0.19274509 | 192.75
    GATEWAY = costs({"ServiceName": "Gateway", "BilledCost": "1000.00", "ChargePeriodStart": DAY1})
    CALLS = usage(
        (DAY1, "Team_A", 1081),
        (DAY1, "Team_A", 1330),
        (DAY1, "Team_A", 1201),
        (DAY1, "Team_A", 505),
        (DAY1, "Team_B", 983),
    )
    RULE = Rule("gateway", Equals("ServiceName", "Gateway"), Allocation.metric())

    def test_guides_example(self):
        result = allocate(self.GATEWAY, team(self.RULE), {"gateway": self.CALLS})
        assert rows_of(result) == [(0, "Team_A", "807.25", "gateway"), (0, "Team_B", "192.75", "gateway")]
        assert result.warnings == []

    def test_preview_split_matches_the_guide(self):
        preview = preview_split({"Team_A": 1081 + 1330 + 1201 + 505, "Team_B": 983}, Decimal(1000))
        share_a, amount_a = preview["Team_A"]
        assert str(share_a).startswith("0.8072549")
        assert amount_a == Decimal("807.25")
        assert preview["Team_B"][1] == Decimal("192.75")

    def test_day_without_usage_goes_to_leftover_with_a_warning(self):
        # day 1: 1000.00 split by usage; day 2: 50.00, no usage that day -> Unallocated
        table = costs(
            {"ServiceName": "Gateway", "BilledCost": "1000.00", "ChargePeriodStart": DAY1},
            {"ServiceName": "Gateway", "BilledCost": "50.00", "ChargePeriodStart": DAY2},
        )
        result = allocate(table, team(self.RULE), {"gateway": self.CALLS})
        assert totals(result) == {"Team_A": "807.25", "Team_B": "192.75", "Unallocated": "50.00"}
        assert result.warnings == ["rule gateway: 1 days without usage went to Unallocated"]

    def test_owner_mapping_to_nothing_sends_its_share_to_leftover(self):
        # manual map: svc-a -> Team_A; svc-x maps to nothing.  usage 3 / 1 of 100.00 -> 75.00 / 25.00
        mapping = ValueMapping(MappingStrategy.MANUAL, table={"svc-a": "Team_A"})
        rule = Rule("gateway", Equals("ServiceName", "Gateway"), Allocation.metric(mapping))
        table = costs({"ServiceName": "Gateway", "BilledCost": "100.00"})
        result = allocate(table, team(rule), {"gateway": usage((DAY1, "svc-a", 3), (DAY1, "svc-x", 1))})
        assert rows_of(result) == [(0, "Team_A", "75.00", "gateway"), (0, "Unallocated", "25.00", "gateway")]
        assert result.warnings == ["rule gateway: usage of 1 owners that map to nothing went to Unallocated (svc-x)"]

    def test_regex_owner_mapping_merges_owners(self):
        # owners team-a/api and team-a/web both map to "a": (2+2) / 4 of 9.99 -> a 4.99(5), b 4.99(5)
        mapping = ValueMapping(MappingStrategy.REGEX, regex=r"^team-(\w+)/")
        rule = Rule("gateway", Always(), Allocation.metric(mapping))
        table = costs({"BilledCost": "9.99"})
        calls = usage((DAY1, "team-a/api", 2), (DAY1, "team-a/web", 2), (DAY1, "team-b/api", 4))
        result = allocate(table, team(rule), {"gateway": calls})
        # 9.99 / 2 = 4.995 each; floors 4.99 + 4.99, the spare cent to "a" (tie, first by name)
        assert rows_of(result) == [(0, "a", "5.00", "gateway"), (0, "b", "4.99", "gateway")]

    def test_metric_rule_needs_its_usage_table(self):
        with pytest.raises(AllocationError, match="needs a usage table"):
            allocate(self.GATEWAY, team(self.RULE))

    def test_negative_usage_is_refused(self):
        with pytest.raises(AllocationError, match="negative"):
            allocate(self.GATEWAY, team(self.RULE), {"gateway": usage((DAY1, "Team_A", -1))})


def test_largest_remainder_breaks_ties_by_value():
    from fractions import Fraction

    third = Fraction(1, 3)
    assert largest_remainder(10, (("a", third), ("b", third), ("c", third))) == [4, 3, 3]
    assert largest_remainder(-10, (("a", third), ("b", third), ("c", third))) == [-3, -3, -4]


def test_a_distribution_that_loses_a_cent_raises_conservation_error(monkeypatch):
    from control_plane.allocation import ConservationError, engine

    original = engine._distribute

    def broken(*args):
        words, values = original(*args)  # amounts as decimal128 (low, high) int64 words
        words[0, 0] -= 1
        return words, values

    monkeypatch.setattr(engine, "_distribute", broken)
    with pytest.raises(ConservationError, match=r"row 0: allocated 0.99, its rounded cost is 1.00"):
        allocate(costs({"BilledCost": "1.00"}), team())


def test_a_split_that_loses_a_cent_raises_conservation_error(monkeypatch):
    # rows 5, 7 are split three ways; the broken split drops a cent from every row's last part
    from control_plane.allocation import ConservationError, engine

    original = engine._split

    def broken(cents, numerators, denominator):
        amounts = original(cents, numerators, denominator)
        amounts[:, -1] -= 1
        return amounts

    monkeypatch.setattr(engine, "_split", broken)
    table = costs({"row_id": 7, "BilledCost": "0.10"}, {"row_id": 5, "BilledCost": "1.00"})
    with pytest.raises(ConservationError, match="row 5"):
        allocate(table, team(Rule("even", Always(), Allocation.split_even(["a", "b", "c"]))))
