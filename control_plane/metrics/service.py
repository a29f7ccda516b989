"""Metrics datasource operations for one tenant.

Input is the plain-Python view of a ``MetricsDatasource`` message
(``MessageToDict(..., preserving_proto_field_name=True, always_print_fields_with_no_presence=True)``), the
shape the shared rules in ``costory_schema.rules`` check. An unset ``prefix`` or ``unit`` is an absent key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from control_plane.errors import InvalidArgument, NotFound
from control_plane.findings import raise_errors
from control_plane.metrics.load import delete_metrics, forget_files
from control_plane.metrics.repository import MetricsDatasourceRepository
from control_plane.models import MetricDefinition, MetricsDatasource, Tenant, utcnow
from control_plane.pagination import Page, page_of
from control_plane.trust.access import RoleAccess
from control_plane.trust.claims import check_role_and_access
from costory_proto.costory.v1 import metrics_datasource_pb2
from costory_schema import rules
from costory_schema.problems import Problem

DatasourceData = Mapping[str, Any]

MUTABLE_FIELDS = ("metrics_definition",)
IMMUTABLE_FIELDS = ("name", "bucket_name", "prefix", "role_arn")
INITIAL_STATUS = "PENDING"


def validate_datasource(data: DatasourceData) -> list[Problem]:
    """Every input rule ``data`` breaks; nothing is saved."""
    return rules.check(metrics_datasource_pb2.MetricsDatasource.DESCRIPTOR, data)


def check_datasource(
    session: Session, tenant: Tenant, data: DatasourceData, access: RoleAccess | None
) -> list[Problem]:
    """Input rules, then the role: claimed by no other tenant, trusting this tenant's identity (and only
    it), able to read Parquet files whose columns fit every metric. Errors come first."""
    findings = validate_datasource(data)
    if findings:
        return findings
    return check_role_and_access(session, tenant, data, access)


def create_datasource(
    session: Session, tenant: Tenant, data: DatasourceData, access: RoleAccess | None = None
) -> tuple[MetricsDatasource, list[Problem]]:
    """Save a datasource whose role is proven usable; returns it with the warnings found on the way."""
    warnings = raise_errors(check_datasource(session, tenant, data, access))
    datasource = MetricsDatasource(
        id=f"mds_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        name=data.get("name", ""),
        bucket_name=data.get("bucket_name", ""),
        prefix=data.get("prefix"),
        role_arn=data.get("role_arn", ""),
        status=INITIAL_STATUS,
        metrics_definition=_definitions(data.get("metrics_definition", [])),
    )
    MetricsDatasourceRepository(session).add(datasource)
    return datasource, warnings


def get_datasource(session: Session, tenant: Tenant, datasource_id: str) -> MetricsDatasource:
    datasource = MetricsDatasourceRepository(session).get(tenant.id, datasource_id)
    if datasource is None:
        raise _not_found(datasource_id)
    return datasource


def update_datasource(
    session: Session,
    tenant: Tenant,
    datasource_id: str,
    data: DatasourceData,
    update_mask: Sequence[str],
    access: RoleAccess | None = None,
) -> tuple[MetricsDatasource, list[Problem]]:
    """Apply the fields named in ``update_mask`` (all fields when empty). Only ``metrics_definition`` can
    change; naming another field is accepted only when its value is unchanged. New definitions are
    checked against the files like a new datasource."""
    datasource = get_datasource(session, tenant, datasource_id)
    paths = list(update_mask) or [*MUTABLE_FIELDS, *IMMUTABLE_FIELDS]
    violations = [
        violation for path in paths if (violation := _mask_violation(datasource, path, data)) is not None
    ]
    if violations:
        raise InvalidArgument(violations)
    warnings: list[Problem] = []
    if "metrics_definition" in paths:
        definitions = data.get("metrics_definition", [])
        merged = {**_immutable_data(datasource), "metrics_definition": definitions}
        warnings = raise_errors(check_datasource(session, tenant, merged, access))
        _forget_outdated_values(session, datasource, definitions)
        datasource.metrics_definition = _definitions(definitions)
        datasource.updated_at = utcnow()
    return datasource, warnings


def _forget_outdated_values(
    session: Session, datasource: MetricsDatasource, definitions: Sequence[Mapping[str, Any]]
) -> None:
    """New definitions change what the files mean: drop the values of removed or changed metrics and
    let the next import read every file again (a new metric then gets its past days too)."""
    old = {d.metric_name: _definition_data(d) for d in datasource.metrics_definition}
    new = {d.metric_name: _definition_data(d) for d in _definitions(definitions)}
    if old == new:
        return
    outdated = [name for name, definition in old.items() if new.get(name) != definition]
    delete_metrics(session, datasource.id, outdated)
    forget_files(session, datasource.id)


def _definition_data(definition: MetricDefinition) -> tuple:
    return tuple(
        getattr(definition, field)
        for field in ("metric_name", "date_column", "value_column", "aggregation", "gap_filling", "unit")
    ) + (tuple(definition.dimensions or ()),)


def delete_datasource(session: Session, tenant: Tenant, datasource_id: str) -> None:
    if not MetricsDatasourceRepository(session).delete(tenant.id, datasource_id):
        raise _not_found(datasource_id)


def list_datasources(session: Session, tenant: Tenant, page_size: int = 0, page_token: str = "") -> Page:
    """One page of the tenant's datasources, oldest first (see control_plane.pagination)."""
    query = (
        sa.select(MetricsDatasource)
        .where(MetricsDatasource.tenant_id == tenant.id)
        .options(selectinload(MetricsDatasource.metrics_definition))
    )
    return page_of(session, query, MetricsDatasource.created_at, MetricsDatasource.id, page_size, page_token)


def _not_found(datasource_id: str) -> NotFound:
    return NotFound(f"metrics datasource {datasource_id!r} not found")


def _mask_violation(datasource: MetricsDatasource, path: str, data: DatasourceData) -> Problem | None:
    if path in MUTABLE_FIELDS:
        return None
    if path in IMMUTABLE_FIELDS:
        if data.get(path) == getattr(datasource, path):
            return None
        return Problem(
            (path,),
            "Immutable Field",
            f"`{path}` cannot be changed after creation; only `metrics_definition` is updated in place. "
            "Create a new datasource to change it.",
        )
    return Problem(
        (path,), "Invalid Update Mask", f"`{path}` cannot be updated; only `metrics_definition` can."
    )


def _immutable_data(datasource: MetricsDatasource) -> dict[str, Any]:
    data = {field: getattr(datasource, field) for field in IMMUTABLE_FIELDS}
    if data["prefix"] is None:
        del data["prefix"]
    return data


def _definitions(items: Sequence[Mapping[str, Any]]) -> list[MetricDefinition]:
    return [
        MetricDefinition(
            position=position,
            metric_name=item.get("metric_name", ""),
            gap_filling=item.get("gap_filling", ""),
            aggregation=item.get("aggregation", ""),
            value_column=item.get("value_column", ""),
            date_column=item.get("date_column", ""),
            dimensions=list(item.get("dimensions", [])),
            unit=item.get("unit"),
        )
        for position, item in enumerate(items)
    ]
