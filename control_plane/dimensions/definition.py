"""A `VirtualDimension` message (its plain-Python view) checked and turned into the allocation engine's rule
model: the one place a rule is validated, at plan time (ValidateVirtualDimension), on every save, and for the
explorer's preview.

First the input rules declared in the proto (required fields, choices, unique rule names), then the rule
semantics: columns a rule may read, operand counts, RE2 regular expressions, one allocation per rule,
percentages, the referenced metrics. Every problem is a `Problem` on the Terraform attribute path of the
offending value, e.g. ("rules", 2, "conditions", 0, "values", 0) for a bad regular expression, so
`terraform plan` underlines the exact line. Values not known yet at plan time (listed in `unknown`) skip the
checks that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from control_plane.allocation import (
    Allocation,
    Always,
    And,
    Condition,
    Equals,
    Exists,
    In,
    MappingStrategy,
    Matches,
    Not,
    Rule,
    ValueMapping,
    VirtualDimension,
)
from control_plane.allocation.regex import RegexError, capture_groups
from control_plane.allocation.rules import TAG_PREFIX, percent_decimal
from control_plane.billing.schema import COST_SCHEMA, RULE_COLUMNS
from control_plane.metrics.query import AuthorizedDatasourceId
from costory_proto.costory.v1 import virtual_dimension_pb2
from costory_schema import rules as input_rules
from costory_schema.problems import PathStep, Problem, errors_in, format_path

DEFAULT_LEFTOVER = "Unallocated"
ALLOCATION_FIELDS = ("value", "from_column", "split_percent", "split_even", "metric_split")
SINGLE_OPERAND = ("EQUALS", "NOT_EQUALS", "MATCHES", "NOT_MATCHES")
LIST_OPERAND = ("IN", "NOT_IN")
NO_OPERAND = ("EXISTS", "NOT_EXISTS")

Path = tuple[PathStep, ...]


@dataclass(frozen=True)
class MetricSource:
    """Where a metric_split rule reads its usage: one metric of a metrics datasource, grouped by the owner
    dimension."""

    datasource_id: AuthorizedDatasourceId
    """Checked to be the tenant's by the `MetricLookup` (unchecked only while unknown at plan time, when
    nothing is computed)."""
    metric_name: str
    dimension: str


MetricLookup = Callable[[str], Mapping[str, Sequence[str]] | None]
"""datasource id -> {metric name: its dimensions} for the caller's tenant, or None when there is no such
datasource."""


@dataclass
class Definition:
    dimension: VirtualDimension | None
    """None when there are errors."""
    metric_sources: dict[str, MetricSource]
    """Rule name -> its usage source, for metric_split rules."""
    findings: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return errors_in(self.findings)


def parse_definition(data: Mapping[str, Any], metrics: MetricLookup, unknown: Collection[str] = ()) -> Definition:
    """Check ``data`` and build the engine's dimension; errors leave ``dimension`` None."""
    declared = [
        p
        for p in input_rules.check(virtual_dimension_pb2.VirtualDimension.DESCRIPTOR, data)
        if not within(p.field, unknown)
    ]
    if declared:
        return Definition(None, {}, declared)
    parser = _Parser(metrics, frozenset(unknown))
    rules = [parser.rule(item, ("rules", index)) for index, item in enumerate(data.get("rules") or [])]
    if not parser.findings and not data.get("rules"):
        parser.error(("rules",), "No Rules", "A virtual dimension needs at least one rule.")
    built = [rule for rule in rules if rule is not None]
    dimension = None
    if not parser.findings and len(built) == len(rules):
        leftover = data.get("leftover_value") or DEFAULT_LEFTOVER
        dimension = VirtualDimension(str(data.get("name", "")), tuple(built), leftover=leftover)
    return Definition(dimension, parser.metric_sources, parser.findings)


def within(field: str, unknown: Collection[str]) -> bool:
    """Whether ``field`` (``rules[0].metric_split``) is one of the ``unknown`` paths or lies inside one."""
    return any(field == u or field.startswith(f"{u}.") or field.startswith(f"{u}[") for u in unknown)


def column_kind(column: str) -> str | None:
    """Why ``column`` cannot be used in a rule, or None when it can (a text column or a tag)."""
    if column.startswith(TAG_PREFIX):
        return None if column[len(TAG_PREFIX) :] else "a tag reference needs a key after `tag:`"
    if column in RULE_COLUMNS:
        return None
    index = COST_SCHEMA.get_field_index(column)
    if index >= 0:
        kind = _type_word(COST_SCHEMA.field(index).type)
        return f"`{column}` is a {kind} column; rules compare text. Use one of {_choices()} or `tag:<key>`."
    return f"`{column}` is not a cost column. Use one of {_choices()} or `tag:<key>`."


def _type_word(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type):
        return "number"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_map(arrow_type):
        return "map (read one tag with `tag:<key>`)"
    return str(arrow_type)


def _choices() -> str:
    return ", ".join(f"`{c}`" for c in RULE_COLUMNS)


class _Parser:
    def __init__(self, metrics: MetricLookup, unknown: frozenset[str]):
        self.metrics = metrics
        self.unknown = unknown
        self.findings: list[Problem] = []
        self.metric_sources: dict[str, MetricSource] = {}

    def error(self, path: Path, summary: str, detail: str) -> None:
        self.findings.append(Problem(path, summary, detail))

    def is_unknown(self, path: Path) -> bool:
        return within(format_path(path), self.unknown)

    # -- rules -------------------------------------------------------------------------------------------

    def rule(self, item: Mapping[str, Any], path: Path) -> Rule | None:
        errors_before = len(self.findings)
        name = str(item.get("name") or "")
        if not name.strip() and not self.is_unknown((*path, "name")):
            self.error((*path, "name"), "Empty Value", "`name` must not be empty.")
        conditions = [self.condition(c, (*path, "conditions", i)) for i, c in enumerate(item.get("conditions") or [])]
        allocation = self.allocation(item, path, name)
        built = [c for c in conditions if c is not None]
        if len(self.findings) > errors_before or allocation is None or len(built) != len(conditions):
            return None
        condition: Condition = Always() if not built else built[0] if len(built) == 1 else And(*built)
        return Rule(name or format_path(path), condition, allocation)

    def condition(self, item: Mapping[str, Any], path: Path) -> Condition | None:
        column = str(item.get("column") or "")
        operator = str(item.get("operator") or "")
        values = [str(v) for v in item.get("values") or []]
        ok = self.column(column, (*path, "column"))
        values_path = (*path, "values")
        if self.is_unknown(values_path) or self.is_unknown((*path, "operator")):
            return None if not ok else Always()
        if operator in SINGLE_OPERAND and len(values) != 1:
            got = len(values)
            self.error(values_path, "Wrong Number Of Values", f"`{operator}` takes exactly one value; got {got}.")
            return None
        if operator in LIST_OPERAND and not values:
            self.error(values_path, "Wrong Number Of Values", f"`{operator}` takes one or more values; got none.")
            return None
        if operator in NO_OPERAND and values:
            self.error(values_path, "Wrong Number Of Values", f"`{operator}` takes no values; got {len(values)}.")
            return None
        if operator in ("MATCHES", "NOT_MATCHES") and not self.regex(values[0], (*values_path, 0)):
            return None
        if not ok:
            return None
        built: Condition
        if operator in ("EQUALS", "NOT_EQUALS"):
            built = Equals(column, values[0])
        elif operator in LIST_OPERAND:
            built = In(column, tuple(values))
        elif operator in ("MATCHES", "NOT_MATCHES"):
            built = Matches(column, values[0])
        elif operator in NO_OPERAND:
            built = Exists(column)
        else:  # the proto's one_of rule already names the choices
            self.error((*path, "operator"), "Invalid Value", f"`operator` is `{operator}`.")
            return None
        return Not(built) if operator.startswith("NOT_") else built

    def column(self, column: str, path: Path) -> bool:
        if self.is_unknown(path):
            return True
        problem = column_kind(column)
        if problem is not None:
            self.error(path, "Unknown Column" if "not a cost column" in problem else "Invalid Column", problem)
            return False
        return True

    def regex(self, pattern: str, path: Path, *, needs_group: bool = False) -> bool:
        """RE2 syntax (linear-time matching): backreferences and lookaround are refused here, by name."""
        if self.is_unknown(path):
            return True
        try:
            groups = capture_groups(pattern)
        except RegexError as exc:
            self.error(path, "Invalid Regular Expression", str(exc))
            return False
        if needs_group and groups < 1:
            self.error(
                path,
                "Missing Capture Group",
                f"`{pattern}` has no capture group; wrap the part that is the value in parentheses, "
                "e.g. `^team-(.+)$`.",
            )
            return False
        return True

    # -- allocations -------------------------------------------------------------------------------------

    def allocation(self, item: Mapping[str, Any], path: Path, rule_name: str) -> Allocation | None:
        present = [name for name in ALLOCATION_FIELDS if item.get(name) not in (None, [], {})]
        present += [name for name in ALLOCATION_FIELDS if self.is_unknown((*path, name)) and name not in present]
        if len(present) != 1:
            listed = ", ".join(f"`{n}`" for n in ALLOCATION_FIELDS)
            got = ", ".join(f"`{n}`" for n in present) or "none"
            self.error(
                path,
                "Exactly One Allocation",
                f"A rule sets exactly one of {listed}; rule `{rule_name}` sets {got}.",
            )
            return None
        kind = present[0]
        if self.is_unknown((*path, kind)):
            return Allocation.fixed("unknown")  # checked again at apply
        value = item[kind]
        at = (*path, kind)
        if kind == "value":
            if not str(value).strip():
                self.error(at, "Empty Value", "`value` must not be empty.")
                return None
            return Allocation.fixed(str(value))
        if kind == "from_column":
            mapping = self.mapping(value.get("mapping"), (*at, "mapping"))
            column = str(value.get("column") or "")
            if not self.column(column, (*at, "column")) or mapping is None:
                return None
            return Allocation.from_column(column, mapping)
        if kind == "split_percent":
            return self.split_percent(value, at)
        if kind == "split_even":
            values = [str(v) for v in value]
            for index, entry in enumerate(values):
                if not entry.strip():
                    self.error((*at, index), "Empty Value", "Split values must not be empty.")
                    return None
                if entry in values[:index]:
                    self.error((*at, index), "Duplicate Value", f"`{entry}` is listed twice; list it once.")
                    return None
            return Allocation.split_even(values)
        return self.metric_split(value, at, rule_name)

    def split_percent(self, value: Mapping[str, Any], path: Path) -> Allocation | None:
        total = Decimal(0)
        for key, percent in value.items():
            amount = percent_decimal(percent)
            if not key.strip():
                self.error(path, "Empty Value", "Split values must not be empty.")
                return None
            if not amount.is_finite() or amount < 0:
                self.error((*path, key), "Invalid Percentage", f"`{key}` is {percent}; a percentage is >= 0.")
                return None
            total += amount
        if total != 100:
            self.error(
                path,
                "Percentages Must Sum To 100",
                f"The percentages sum to {total.normalize():f}; make them sum to exactly 100.",
            )
            return None
        return Allocation.split_percent(dict(value))

    def mapping(self, value: Mapping[str, Any] | None, path: Path) -> ValueMapping | None:
        if value is None:
            return ValueMapping()
        if self.is_unknown(path):
            return ValueMapping()
        strategy = str(value.get("strategy") or "IDENTITY")
        regex = value.get("regex")
        table = value.get("table") or {}
        if strategy == "REGEX":
            if not regex:
                self.error((*path, "regex"), "Missing Regular Expression", '`strategy = "REGEX"` needs `regex`.')
                return None
            if not self.regex(str(regex), (*path, "regex"), needs_group=True):
                return None
            return ValueMapping(MappingStrategy.REGEX, regex=str(regex))
        if strategy == "MANUAL":
            if self.is_unknown((*path, "table")):
                return ValueMapping()
            if not table:
                self.error(
                    (*path, "table"),
                    "Missing Mapping Table",
                    '`strategy = "MANUAL"` needs a non-empty `table` of raw value -> dimension value.',
                )
                return None
            return ValueMapping(MappingStrategy.MANUAL, table=dict(table))
        if strategy != "IDENTITY":
            self.error((*path, "strategy"), "Invalid Value", f"`strategy` is `{strategy}`.")
            return None
        return ValueMapping()

    def metric_split(self, value: Mapping[str, Any], path: Path, rule_name: str) -> Allocation | None:
        mapping = self.mapping(value.get("mapping"), (*path, "mapping"))
        datasource_id = str(value.get("metrics_datasource_id") or "")
        metric_name = str(value.get("metric_name") or "")
        dimension = str(value.get("dimension") or "")
        if mapping is None:
            return None
        source = MetricSource(AuthorizedDatasourceId(datasource_id), metric_name, dimension)
        if not self.is_unknown((*path, "metrics_datasource_id")):
            metrics = self.metrics(datasource_id)
            if metrics is None:
                self.error(
                    (*path, "metrics_datasource_id"),
                    "Unknown Metrics Datasource",
                    f"No metrics datasource `{datasource_id}` exists for this tenant; reference one with "
                    "`costory_metrics_datasource_s3_parquet.<name>.id`.",
                )
                return None
            if not self.is_unknown((*path, "metric_name")):
                if metric_name not in metrics:
                    names = ", ".join(f"`{m}`" for m in metrics) or "none"
                    self.error(
                        (*path, "metric_name"),
                        "Unknown Metric",
                        f"Metrics datasource `{datasource_id}` has no metric `{metric_name}`; its metrics: {names}.",
                    )
                    return None
                if not self.is_unknown((*path, "dimension")) and dimension not in metrics[metric_name]:
                    dims = ", ".join(f"`{d}`" for d in metrics[metric_name]) or "none"
                    self.error(
                        (*path, "dimension"),
                        "Unknown Metric Dimension",
                        f"Metric `{metric_name}` has no dimension `{dimension}`; its dimensions: {dims}.",
                    )
                    return None
        self.metric_sources[rule_name] = source
        return Allocation.metric(mapping)
