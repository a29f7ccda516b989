"""Virtual dimension operations for one tenant: save, check, compute and preview.

Input is the plain-Python view of a ``VirtualDimension`` message (``to_data``). Saving a dimension computes
its allocation over all cost data held ("changing a dimension recomputes its history"): the definition and
its results are saved together or not at all (see `results`). Results are kept as Parquet in the data store
with their summary, which reads answer from.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.allocation import ConservationError
from control_plane.db import release
from control_plane.dimensions import compute, results
from control_plane.dimensions import summary as summaries
from control_plane.dimensions.definition import DEFAULT_LEFTOVER, Definition, parse_definition
from control_plane.dimensions.status import DimensionStatus
from control_plane.errors import AlreadyExists, DomainError, FailedPrecondition, InvalidArgument, NotFound
from control_plane.findings import raise_errors
from control_plane.models import Dimension, Tenant, utcnow
from control_plane.pagination import Page, page_of
from costory_schema.problems import Problem

log = logging.getLogger(__name__)

DimensionData = Mapping[str, Any]
MUTABLE_FIELDS = ("name", "leftover_value", "rules")
NO_COST_DATA = "No cost data yet: import a billing datasource."


def check_dimension(
    session: Session, tenant: Tenant, data: DimensionData, unknown: Collection[str] = ()
) -> tuple[Definition, list[Problem]]:
    """Every problem of ``data`` (see `definition.parse_definition`), with the definition it builds."""
    definition = parse_definition(data, compute.metric_lookup(session, tenant.id), unknown)
    return definition, list(definition.findings)


def _name_taken(session: Session, tenant: Tenant, name: str, except_id: str | None = None) -> None:
    query = sa.select(Dimension.id).where(Dimension.tenant_id == tenant.id, Dimension.name == name)
    if except_id is not None:
        query = query.where(Dimension.id != except_id)
    if session.scalar(query) is not None:
        raise AlreadyExists(
            f"a virtual dimension named {name!r} already exists for this tenant; names are unique per tenant"
        )


def create_dimension(
    session: Session, tenant: Tenant, data: DimensionData, engine: compute.Engine
) -> tuple[Dimension, list[Problem]]:
    """Save and compute a new dimension; raises (and saves nothing) when it cannot be computed."""
    definition, findings = check_dimension(session, tenant, data)
    raise_errors(findings)
    _name_taken(session, tenant, data["name"])
    row = Dimension(
        id=f"vd_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        name=data["name"],
        leftover_value=data.get("leftover_value") or DEFAULT_LEFTOVER,
        rules=list(data.get("rules") or []),
        status=DimensionStatus.PENDING,
    )
    session.add(row)
    session.flush()
    return row, _save_results(session, row, engine, definition)


def get_dimension(session: Session, tenant: Tenant, dimension_id: str) -> Dimension:
    row = session.scalar(sa.select(Dimension).where(Dimension.tenant_id == tenant.id, Dimension.id == dimension_id))
    if row is None:
        raise NotFound(f"virtual dimension {dimension_id!r} not found")
    return row


def update_dimension(
    session: Session,
    tenant: Tenant,
    dimension_id: str,
    data: DimensionData,
    update_mask: Sequence[str],
    engine: compute.Engine,
) -> tuple[Dimension, list[Problem]]:
    """Replace the masked fields and recompute; raises (and changes nothing: the previous definition and its
    results stay served) when the new definition cannot be computed."""
    row = get_dimension(session, tenant, dimension_id)
    paths = list(update_mask) or list(MUTABLE_FIELDS)
    bad = [p for p in paths if p not in MUTABLE_FIELDS]
    if bad:
        allowed = ", ".join(MUTABLE_FIELDS)
        raise InvalidArgument(
            [Problem((p,), "Invalid Update Mask", f"`{p}` cannot be updated; only {allowed} can.") for p in bad]
        )
    merged = {**_data(row), **{p: data.get(p) for p in paths}}
    definition, findings = check_dimension(session, tenant, merged)
    raise_errors(findings)
    _name_taken(session, tenant, merged["name"], except_id=row.id)
    row.name = merged["name"]
    row.leftover_value = merged.get("leftover_value") or DEFAULT_LEFTOVER
    row.rules = list(merged.get("rules") or [])
    row.updated_at = utcnow()
    return row, _save_results(session, row, engine, definition)


def delete_dimension(session: Session, tenant: Tenant, dimension_id: str, engine: compute.Engine) -> None:
    row = get_dimension(session, tenant, dimension_id)
    results.forget(session, row, engine.store)
    session.delete(row)
    session.flush()


def list_dimensions(session: Session, tenant: Tenant, page_size: int = 0, page_token: str = "") -> Page[Dimension]:
    query = sa.select(Dimension).where(Dimension.tenant_id == tenant.id)
    return page_of(session, query, Dimension.created_at, Dimension.id, page_size, page_token)


def _data(row: Dimension) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "leftover_value": row.leftover_value, "rules": list(row.rules)}


# -- computing -------------------------------------------------------------------------------------------


class _NotComputed(Exception):
    """Why a definition could not be computed (a message for the user)."""


def _compute(
    session: Session, row: Dimension, engine: compute.Engine, definition: Definition
) -> compute.Computed | None:
    """The allocation of ``definition`` over all cost data held, written under a new results folder (None
    without cost data)."""
    if definition.dimension is None:
        raise _NotComputed("; ".join(f"{p.field}: {p.detail}" if p.path else p.detail for p in definition.errors))
    try:
        return compute.run_allocation(
            session,
            engine,
            row.tenant_id,
            definition.dimension,
            definition.metric_sources,
            into=compute.new_result_folder(row.id),
        )
    except DomainError as exc:  # an allocation error, a metric gone, usage that cannot be read
        raise _NotComputed(str(exc)) from None
    except ConservationError as exc:  # a bug in the engine: the details go to the log, not to the user
        log.exception("virtual dimension %s: allocated amounts do not add up", row.id)
        raise _NotComputed(
            "the allocation did not add up to the cost it came from (a bug; see the server log)"
        ) from exc


def _save_results(session: Session, row: Dimension, engine: compute.Engine, definition: Definition) -> list[Problem]:
    """A user's save: the definition on ``row`` and its results, both or (raising) neither."""
    try:
        result = _compute(session, row, engine, definition)
    except _NotComputed as exc:
        raise FailedPrecondition(
            f"virtual dimension {row.name!r} could not be computed, so it was not saved: {exc}"
        ) from None
    return _record(session, row, engine, definition, result)


def _record(
    session: Session, row: Dimension, engine: compute.Engine, definition: Definition, result: compute.Computed | None
) -> list[Problem]:
    """Point ``row`` at ``result`` and set its status; returns the warnings (also in ``status_message``)."""
    results.point_to(session, row, engine.store, result)
    row.computed_at = utcnow()
    if result is None:
        row.status, row.status_message = DimensionStatus.NO_COST_DATA, NO_COST_DATA
        return []
    warnings = _unmatched_rules(definition, result)
    row.status = DimensionStatus.COMPUTED
    row.status_message = "; ".join([*result.warnings, *(w.detail for w in warnings)])
    return warnings


def _unmatched_rules(definition: Definition, result: compute.Computed) -> list[Problem]:
    """A warning per rule that matched no cost row: normal when a rule is written before its data arrives."""
    if definition.dimension is None:
        return []
    used = set(result.totals().by_rule)
    return [
        Problem.warning(
            ("rules", index),
            "Rule Matches No Cost",
            f"Rule `{rule.name}` matched none of the {result.cost_rows} cost rows held: check its conditions, or an "
            "earlier rule takes those rows first.",
        )
        for index, rule in enumerate(definition.dimension.rules)
        if rule.name not in used
    ]


def recompute(session: Session, row: Dimension, engine: compute.Engine) -> list[Problem]:
    """Compute the saved dimension again over the data held now (new cost data or usage, or on request) and
    record the outcome on ``row``; returns the warnings. A failure is recorded as status ERROR, with the
    results of the last successful computation still served; it is never raised."""
    definition = parse_definition(_data(row), compute.metric_lookup(session, row.tenant_id))
    try:
        result = _compute(session, row, engine, definition)
    except _NotComputed as exc:
        message = str(exc)
        log.warning("virtual dimension %s could not be recomputed: %s", row.id, message)
        row.status, row.status_message, row.computed_at = DimensionStatus.ERROR, message, utcnow()
        return [Problem.warning((), "Allocation Not Computed", message)]
    return _record(session, row, engine, definition, result)


def recompute_tenant(
    session: Session, tenant_id: str, engine: compute.Engine, metrics_datasource_id: str | None = None
) -> int:
    """Recompute the tenant's dimensions after new cost data (all of them) or new usage (those whose rules
    read ``metrics_datasource_id``); returns how many were recomputed. Also removes result files left by
    transactions that never committed."""
    rows = list(session.scalars(sa.select(Dimension).where(Dimension.tenant_id == tenant_id)))
    if metrics_datasource_id is not None:
        rows = [r for r in rows if metrics_datasource_id in _metric_datasources(r)]
    for row in rows:
        recompute(session, row, engine)
    results.sweep(session, engine.store, tenant_id)
    return len(rows)


def _metric_datasources(row: Dimension) -> set[str]:
    return {
        (rule.get("metric_split") or {}).get("metrics_datasource_id", "")
        for rule in row.rules
        if rule.get("metric_split")
    }


# -- state and impact ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationState:
    row: Dimension
    summary: summaries.Summary | None
    """Of the results served (those of the last successful computation); None without."""


def allocation_state(session: Session, tenant: Tenant, dimension_id: str, engine: compute.Engine) -> AllocationState:
    """A read: the row and its result pointer come from the database, then the session's connection goes
    back to the pool before the summary is read. Releasing ends the transaction, so a transaction that has
    written (a recompute) uses `state_of` instead."""
    row = get_dimension(session, tenant, dimension_id)
    release(session)
    return state_of(row, engine)


def state_of(row: Dimension, engine: compute.Engine) -> AllocationState:
    """The state of the results ``row`` points at, from their summary (read once per process and cached)."""
    keys = compute.result_keys(row.tenant_id, row.id, row.allocation_file)
    return AllocationState(row, compute.read_totals(engine.store, keys))


def impact(
    session: Session, tenant: Tenant, data: DimensionData, definition: Definition, engine: compute.Engine
) -> Problem | None:
    """The money a change moves per value over the last 30 days of cost data, as a WARNING finding (None
    without cost data). Against the saved dimension when ``data`` has the id of one, else against nothing."""
    try:
        return _impact(session, tenant, data, definition, engine)
    except DomainError as exc:  # a preview must never block a plan on its own
        return Problem.warning((), "Allocation Impact Not Computed", f"The 30-day preview failed: {exc}")


def _impact(
    session: Session, tenant: Tenant, data: DimensionData, definition: Definition, engine: compute.Engine
) -> Problem | None:
    window = compute.last_30_days(session, engine.store, tenant.id)
    if window is None or definition.dimension is None:
        return None
    proposed = compute.run_allocation(
        session, engine, tenant.id, definition.dimension, definition.metric_sources, window
    )
    if proposed is None:
        return None
    after = proposed.totals()
    before: summaries.Summary | None = None
    saved_id = data.get("id")
    if saved_id:
        saved_definition, _ = check_dimension(session, tenant, _data(get_dimension(session, tenant, saved_id)))
        if saved_definition.dimension is not None:
            saved = compute.run_allocation(
                session, engine, tenant.id, saved_definition.dimension, saved_definition.metric_sources, window
            )
            before = saved.totals() if saved is not None else None
    return _impact_finding(window, definition.dimension.leftover, after, before)


def _impact_finding(
    window: tuple[date, date], leftover: str, after: summaries.Summary, before: summaries.Summary | None
) -> Problem:
    start, end = window
    span = f"{start.isoformat()} – {(end - timedelta(days=1)).isoformat()}"
    lines: list[str] = []
    left_after = compute.percent(after.by_value.get(leftover, Decimal(0)), after.total)
    if before is None:
        lines.append(f"Over {span} ({compute.money(after.total)} of cost) this dimension allocates:")
        for value, amount in sorted(after.by_value.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {value}: {compute.money(amount)} ({compute.percent(amount, after.total)}%)")
        lines.append(f"Leftover ({leftover}): {left_after}% of the cost.")
        return Problem.warning((), "Allocation Preview (Last 30 Days)", "\n".join(lines))
    values = sorted(set(after.by_value) | set(before.by_value))
    moves = {v: after.by_value.get(v, Decimal(0)) - before.by_value.get(v, Decimal(0)) for v in values}
    moved = sum((m for m in moves.values() if m > 0), Decimal(0))
    left_before = compute.percent(before.by_value.get(leftover, Decimal(0)), before.total)
    if not moved:
        lines.append(f"Over {span} ({compute.money(after.total)} of cost) this change moves no money.")
    else:
        lines.append(f"Over {span} ({compute.money(after.total)} of cost) this change moves {compute.money(moved)}:")
        for value, amount in sorted(moves.items(), key=lambda kv: (-abs(kv[1]), kv[0])):
            if amount:
                lines.append(f"  {value}: {compute.money(amount, signed=True)}")
    lines.append(f"Leftover ({leftover}): {left_after}% of the cost after the change (was {left_before}%).")
    return Problem.warning((), "Allocation Impact (Last 30 Days)", "\n".join(lines))
