"""Billing datasources of the sources in ``billing.kinds`` for one tenant: save (rules from the proto, the
credential sealed), read (never the credential), list. Deleting, importing and the months held are the same as
for AWS (``billing.service``).

Input is the plain-Python view of the kind's message (``to_data``); unset optionals are absent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from control_plane.billing.kinds import SourceKind
from control_plane.billing.service import date_range_problems
from control_plane.findings import raise_errors
from control_plane.messages import timestamp, to_data
from control_plane.models import BillingDatasource, Tenant
from control_plane.pagination import Page, page_of
from control_plane.secrets import SecretBox
from costory_schema import rules
from costory_schema.problems import Problem

DATES = ("start_date", "end_date")


def check(kind: SourceKind, data: Mapping[str, Any]) -> list[Problem]:
    return rules.check(kind.message.DESCRIPTOR, data) or date_range_problems(data)


def create(
    session: Session, tenant: Tenant, kind: SourceKind, data: Mapping[str, Any], secrets: SecretBox
) -> BillingDatasource:
    raise_errors(check(kind, data))
    fields = kind.message.DESCRIPTOR.fields_by_name
    datasource = BillingDatasource(
        id=f"bds_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        kind=kind.kind,
        name=data["name"],
        bucket_name="",
        prefix="",
        role_arn="",
        start_date=data.get("start_date") if "start_date" in fields else None,
        end_date=data.get("end_date") if "end_date" in fields else None,
        config={name: data[name] for name in kind.settings if name in data},
        secret=secrets.seal(data[kind.secret]) if kind.secret else None,
        status="PENDING",
    )
    session.add(datasource)
    session.flush()
    return datasource


def list_datasources(
    session: Session, tenant: Tenant, kind: SourceKind, page_size: int = 0, page_token: str = ""
) -> Page:
    query = sa.select(BillingDatasource).where(
        BillingDatasource.tenant_id == tenant.id, BillingDatasource.kind == kind.kind
    )
    return page_of(session, query, BillingDatasource.created_at, BillingDatasource.id, page_size, page_token)


def to_proto(kind: SourceKind, datasource: BillingDatasource) -> Message:
    """The datasource as its kind's message. The credential is never set: it is write-only."""
    message = kind.message()
    fields = message.DESCRIPTOR.fields_by_name
    values: dict[str, Any] = {
        "id": datasource.id,
        "name": datasource.name,
        "status": datasource.status,
        "status_message": datasource.status_message or "",
        **(datasource.config or {}),
    }
    if "type" in fields:
        values["type"] = kind.source_type
    if "bq_table_uri" in fields:
        values["bq_table_uri"] = f"costory://costs/{datasource.id}"
    for name in DATES:
        value = getattr(datasource, name)
        if name in fields and value is not None:
            values[name] = value
    for name, value in values.items():
        if name in fields and name != kind.secret:
            setattr(message, name, value)
    stamp = timestamp(datasource.last_import_at)
    if stamp is not None:
        message.last_import_at.CopyFrom(stamp)  # type: ignore[attr-defined]
    return message


def update(
    session: Session,
    tenant: Tenant,
    kind: SourceKind,
    datasource: BillingDatasource,
    data: Mapping[str, Any],
    update_mask: list[str],
    secrets: SecretBox,
) -> BillingDatasource:
    """Store the credential again (after `terraform import` the state holds none); any other attribute named
    must keep its value — changing it means a new datasource."""
    current = to_data(to_proto(kind, datasource))
    problems = []
    for path in update_mask or [kind.secret or "name"]:
        if path == kind.secret:
            value = data.get(path) or ""
            if not value.strip():
                problems.append(Problem((path,), "Empty Value", f"`{path}` must not be empty."))
            else:
                datasource.secret = secrets.seal(value)
        elif data.get(path) != current.get(path):
            problems.append(
                Problem(
                    (path,),
                    "Immutable Field",
                    f"`{path}` cannot be changed after creation; create a new datasource to change it.",
                )
            )
    raise_errors(problems)
    return datasource
