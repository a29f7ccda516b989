"""AWS billing datasource operations for one tenant: save (after the same trust checks as metrics), import
(on demand: ``run_import``; daily, from the scheduler: ``execute_import``), and the months held.

Input is the plain-Python view of a ``BillingDatasourceAws`` message (``to_data``); unset optionals are absent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.billing.importer import BillingConnector, BillingImportSummary, in_months
from control_plane.billing.store import CostStore
from control_plane.datastore import open_store
from control_plane.errors import InvalidArgument, NotFound
from control_plane.findings import raise_errors
from control_plane.imports.errors import ImportFailed
from control_plane.imports.pipeline import FileStatus, ImportSummary
from control_plane.imports.roles import import_through_role
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, Tenant, utcnow
from control_plane.pagination import Page, page_of
from control_plane.services import Services
from control_plane.trust.access import RoleAccess
from control_plane.trust.claims import check_role_and_access
from costory_proto.costory.v1 import billing_datasource_pb2
from costory_schema import rules
from costory_schema.problems import Problem

DatasourceData = Mapping[str, Any]
MUTABLE_FIELDS = ("eks_split", "eks_split_data_enabled", "start_date", "end_date")
IMMUTABLE_FIELDS = ("name", "bucket_name", "prefix", "role_arn")

log = logging.getLogger(__name__)


def date_range_problems(data: DatasourceData) -> list[Problem]:
    """`end_date` before `start_date` (both `YYYY-MM-DD`, already checked by the rules)."""
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and start > end:
        return [Problem(("end_date",), "Invalid Range", f"`end_date` ({end}) is before `start_date` ({start}).")]
    return []


def check_datasource(
    session: Session, tenant: Tenant, data: DatasourceData, access: RoleAccess | None
) -> list[Problem]:
    findings = rules.check(billing_datasource_pb2.BillingDatasourceAws.DESCRIPTOR, data) or date_range_problems(data)
    return findings or check_role_and_access(session, tenant, data, access)


def create_datasource(
    session: Session, tenant: Tenant, data: DatasourceData, access: RoleAccess | None = None
) -> tuple[BillingDatasource, list[Problem]]:
    warnings = raise_errors(check_datasource(session, tenant, data, access))
    datasource = BillingDatasource(
        id=f"bds_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        **{name: data.get(name, "") for name in IMMUTABLE_FIELDS},
        **{name: data.get(name) for name in MUTABLE_FIELDS},
        status="PENDING",
    )
    session.add(datasource)
    session.flush()
    return datasource, warnings


def get_datasource(
    session: Session, tenant: Tenant, datasource_id: str, kind: str | None = "AWS"
) -> BillingDatasource:
    """The tenant's billing datasource of ``kind`` (any kind when None): an Anthropic id asked as AWS is not
    found."""
    query = sa.select(BillingDatasource).where(
        BillingDatasource.tenant_id == tenant.id, BillingDatasource.id == datasource_id
    )
    datasource = session.scalar(query if kind is None else query.where(BillingDatasource.kind == kind))
    if datasource is None:
        raise NotFound(f"billing datasource {datasource_id!r} not found")
    return datasource


def update_datasource(
    session: Session, tenant: Tenant, datasource_id: str, data: DatasourceData, update_mask: Sequence[str]
) -> BillingDatasource:
    """Apply the mutable fields named in ``update_mask`` (all when empty); an immutable field may be named
    only with its current value."""
    datasource = get_datasource(session, tenant, datasource_id)
    paths = list(update_mask) or [*MUTABLE_FIELDS, *IMMUTABLE_FIELDS]
    violations = []
    for path in paths:
        if path in IMMUTABLE_FIELDS and data.get(path) != getattr(datasource, path):
            violations.append(
                Problem(
                    (path,),
                    "Immutable Field",
                    f"`{path}` cannot be changed after creation; create a new billing datasource to change it.",
                )
            )
        elif path not in MUTABLE_FIELDS and path not in IMMUTABLE_FIELDS:
            violations.append(Problem((path,), "Invalid Update Mask", f"`{path}` cannot be updated."))
    merged = {
        **{n: getattr(datasource, n) for n in IMMUTABLE_FIELDS},
        **{p: data.get(p) for p in paths if p in MUTABLE_FIELDS},
    }
    merged = {k: v for k, v in merged.items() if v is not None}
    violations += [f for f in check_datasource(session, tenant, merged, None) if f.is_error]
    if violations:
        raise InvalidArgument(violations)
    for path in paths:
        if path in MUTABLE_FIELDS:
            setattr(datasource, path, data.get(path))
    datasource.updated_at = utcnow()
    return datasource


def delete_datasource(session: Session, datasource: BillingDatasource, costs: CostStore) -> None:
    """Any kind: the definition, its months and files, and (once the transaction commits) its cost partitions."""
    session.delete(datasource)
    session.flush()
    costs.drop_datasource(session, datasource.tenant_id, datasource.id)


def list_datasources(session: Session, tenant: Tenant, page_size: int = 0, page_token: str = "") -> Page:
    query = sa.select(BillingDatasource).where(
        BillingDatasource.tenant_id == tenant.id, BillingDatasource.kind == "AWS"
    )
    return page_of(session, query, BillingDatasource.created_at, BillingDatasource.id, page_size, page_token)


def list_periods(session: Session, datasource_id: str) -> list[BillingPeriod]:
    return list(
        session.scalars(
            sa.select(BillingPeriod)
            .where(BillingPeriod.datasource_id == datasource_id)
            .order_by(BillingPeriod.billing_period.desc())
        )
    )


FILE_STATUSES = tuple(FileStatus)


def list_files(session: Session, datasource_id: str, status: str = "") -> list[BillingFile]:
    """Export files seen under the prefix, by key; only those with ``status`` when given."""
    if status and status not in FILE_STATUSES:
        raise InvalidArgument(
            [Problem(("status",), "Invalid Value", f"`status` must be one of {', '.join(FILE_STATUSES)} or empty.")]
        )
    query = sa.select(BillingFile).where(BillingFile.datasource_id == datasource_id)
    if status:
        query = query.where(BillingFile.status == status)
    return list(session.scalars(query.order_by(BillingFile.key)))


def run_import(services: Services, session: Session, datasource: BillingDatasource) -> BillingImportSummary:
    """Import the export now (the job: import, then recompute the tenant's dimensions if a month changed).
    A failure is recorded on the datasource and returned as a FAILED summary, not raised."""
    from control_plane.jobs import import_billing

    datasource_id = datasource.id
    session.commit()  # the request's read is done; the import writes in transactions of its own
    try:
        summary = import_billing(services, datasource_id, trigger="MANUAL")
    except ImportFailed as failure:
        return BillingImportSummary(datasource_id, status="FAILED", message=failure.message)
    return in_months(services.sessions, datasource_id, summary)


def execute_import(
    services: Services, datasource_id: str, *, trigger: str = "SCHEDULED", run_id: int | None = None
) -> ImportSummary:
    """The import step of the ``import_billing`` job: an AWS export through the datasource's role, any other
    source through its reader (``billing.feeds``). A failure is recorded on the datasource and then raised as
    ``TransientImportError`` (throttling, 5xx, unreachable) or ``TerminalImportError`` (access denied, a revoked
    key, no such bucket or table)."""
    with services.sessions() as session:
        kind = session.scalar(sa.select(BillingDatasource.kind).where(BillingDatasource.id == datasource_id))
    if kind not in (None, "AWS"):
        from control_plane.billing import feeds

        summary = feeds.execute_import(services, datasource_id, trigger=trigger, run_id=run_id)
    else:
        summary = import_through_role(
            services,
            BillingConnector(services.sessions, datasource_id, CostStore(open_store(services.settings))),
            trigger=trigger,
            run_id=run_id,
        )
    log.info(
        "billing datasource %s: %s, months replaced: %s", datasource_id, summary.status, summary.loaded_units or "none"
    )
    return summary
