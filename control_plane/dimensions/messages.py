"""Proto messages for virtual dimensions and their allocation state: shared by gRPC and REST."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from google.protobuf.json_format import ParseDict

from control_plane.dimensions import compute, service
from control_plane.findings import to_proto as finding_to_proto
from control_plane.messages import timestamp
from control_plane.models import Dimension
from costory_proto.costory.v1 import virtual_dimension_pb2 as pb
from costory_schema.problems import Problem


def to_proto(row: Dimension, warnings: Sequence[Problem] = ()) -> pb.VirtualDimension:
    message = ParseDict({"rules": row.rules}, pb.VirtualDimension())
    message.id = row.id
    message.name = row.name
    message.leftover_value = row.leftover_value
    message.status = row.status
    message.status_message = row.status_message or ""
    computed_at = timestamp(row.computed_at)
    if computed_at is not None:
        message.computed_at.CopyFrom(computed_at)
    message.findings.extend(finding_to_proto(f) for f in warnings)
    return message


def state_to_proto(state: service.AllocationState) -> pb.AllocationState:
    row, summary = state.row, state.summary
    message = pb.AllocationState(
        dimension_id=row.id,
        dimension_name=row.name,
        status=row.status,
        status_message=row.status_message or "",
        leftover_value=row.leftover_value,
    )
    computed_at = timestamp(row.computed_at)
    if computed_at is not None:
        message.computed_at.CopyFrom(computed_at)
    if summary is None:
        return message
    leftover = summary.by_value.get(row.leftover_value, Decimal(0))
    message.start_date = summary.first_day.isoformat() if summary.first_day else ""
    message.end_date = summary.last_day.isoformat() if summary.last_day else ""
    message.total_cost = f"{summary.total:.2f}"
    message.leftover_cost = f"{leftover:.2f}"
    message.leftover_percent = f"{compute.percent(leftover, summary.total)}"
    message.cost_rows = summary.cost_rows
    message.values.extend(
        pb.ValueAmount(value=value, cost=f"{amount:.2f}", percent=f"{compute.percent(amount, summary.total)}")
        for value, amount in sorted(summary.by_value.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    order = {rule.get("name"): index for index, rule in enumerate(row.rules)}
    message.rules.extend(
        pb.RuleAmount(rule=rule or "", cost=f"{amount:.2f}", cost_rows=rows)
        for rule, (amount, rows) in sorted(summary.by_rule.items(), key=lambda kv: order.get(kv[0], len(order)))
    )
    return message
