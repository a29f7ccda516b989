"""Budgets, alerts and reports over REST: the same service functions and messages as their gRPC services.

A PATCH changes the fields sent (the update mask is the set of fields in the body). The Slack webhook URL is
accepted on writes and never returned.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from control_plane.budgets import service
from control_plane.budgets.grpc import budget_status_of, preview_of
from control_plane.budgets.service import ALERT, BUDGET, REPORT, Kind
from control_plane.messages import to_data, to_json
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep, parse_body
from control_plane.rest.schemas import model_for
from control_plane.secrets import SecretBox, secret_box
from control_plane.services import Services
from costory_proto.costory.v1 import alerting_pb2 as pb

router = APIRouter(prefix="/v1", tags=["budgets"])

BudgetBody = model_for(pb.Budget.DESCRIPTOR)
AlertBody = model_for(pb.Alert.DESCRIPTOR)
ReportBody = model_for(pb.Report.DESCRIPTOR)
PreviewBody = model_for(pb.PreviewAlertRequest.DESCRIPTOR)


def _create(kind: Kind, body: BaseModel, services, session, tenant) -> dict[str, Any]:
    message = parse_body(body, kind.message(), services)
    return to_json(service.to_proto(kind, service.create(session, tenant, kind, to_data(message), _box(services))))


def _patch(kind: Kind, id_: str, body: BaseModel, services, session, tenant) -> dict[str, Any]:
    message = parse_body(body, kind.message(), services)
    mask = [name for name in kind.fields if name in body.model_fields_set]
    if not mask:
        return to_json(service.to_proto(kind, service.get(session, tenant, kind, id_)))
    row = service.update(session, tenant, kind, id_, to_data(message), mask, _box(services))
    return to_json(service.to_proto(kind, row))


def _box(services: Services) -> SecretBox:
    return secret_box(services.settings)


# -- budgets -------------------------------------------------------------------------------------------------


@router.get("/budgets", response_model=model_for(pb.ListBudgetsResponse.DESCRIPTOR), response_model_exclude_none=True)
def list_budgets(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_rules(s, t, BUDGET, page_size, page_token)
    items = [service.to_proto(BUDGET, r) for r in page.items]
    return to_json(pb.ListBudgetsResponse(budgets=items, next_page_token=page.next_page_token))


@router.post("/budgets", status_code=201, response_model=BudgetBody, response_model_exclude_none=True)
def create_budget(body: BudgetBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    return _create(BUDGET, body, services, s, t)


@router.get("/budgets/{budget_id}", response_model=BudgetBody, response_model_exclude_none=True)
def get_budget(budget_id: str, s: SessionDep, t: TenantDep):
    return to_json(service.to_proto(BUDGET, service.get(s, t, BUDGET, budget_id)))


@router.patch("/budgets/{budget_id}", response_model=BudgetBody, response_model_exclude_none=True)
def update_budget(budget_id: str, body: BudgetBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    return _patch(BUDGET, budget_id, body, services, s, t)


@router.delete("/budgets/{budget_id}", status_code=204, response_class=Response)
def delete_budget(budget_id: str, s: SessionDep, t: TenantDep):
    service.delete(s, t, BUDGET, budget_id)


@router.get(
    "/budgets/{budget_id}/status",
    response_model=model_for(pb.BudgetStatus.DESCRIPTOR),
    response_model_exclude_none=True,
)
def budget_status(budget_id: str, services: ServicesDep, s: SessionDep, t: TenantDep, date: str = ""):
    """The current period (the one holding `date`, YYYY-MM-DD, when given): amount, actual so far, forecast of the
    period-end cost, thresholds crossed."""
    return to_json(budget_status_of(services, s, t, budget_id, date))


# -- alerts --------------------------------------------------------------------------------------------------


@router.get("/alerts", response_model=model_for(pb.ListAlertsResponse.DESCRIPTOR), response_model_exclude_none=True)
def list_alerts(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_rules(s, t, ALERT, page_size, page_token)
    items = [service.to_proto(ALERT, r) for r in page.items]
    return to_json(pb.ListAlertsResponse(alerts=items, next_page_token=page.next_page_token))


@router.post("/alerts", status_code=201, response_model=AlertBody, response_model_exclude_none=True)
def create_alert(body: AlertBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    return _create(ALERT, body, services, s, t)


@router.post(
    "/alerts:preview", response_model=model_for(pb.PreviewAlertResponse.DESCRIPTOR), response_model_exclude_none=True
)
def preview_alert(body: PreviewBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    """The days the alert would have fired on over the last `days` (90 by default) days of cost data."""
    request = parse_body(body, pb.PreviewAlertRequest(), services)
    return to_json(preview_of(services, s, t, request))


@router.get("/alerts/{alert_id}", response_model=AlertBody, response_model_exclude_none=True)
def get_alert(alert_id: str, s: SessionDep, t: TenantDep):
    return to_json(service.to_proto(ALERT, service.get(s, t, ALERT, alert_id)))


@router.patch("/alerts/{alert_id}", response_model=AlertBody, response_model_exclude_none=True)
def update_alert(alert_id: str, body: AlertBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    return _patch(ALERT, alert_id, body, services, s, t)


@router.delete("/alerts/{alert_id}", status_code=204, response_class=Response)
def delete_alert(alert_id: str, s: SessionDep, t: TenantDep):
    service.delete(s, t, ALERT, alert_id)


# -- reports -------------------------------------------------------------------------------------------------


@router.get("/reports", response_model=model_for(pb.ListReportsResponse.DESCRIPTOR), response_model_exclude_none=True)
def list_reports(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_rules(s, t, REPORT, page_size, page_token)
    items = [service.to_proto(REPORT, r) for r in page.items]
    return to_json(pb.ListReportsResponse(reports=items, next_page_token=page.next_page_token))


@router.post("/reports", status_code=201, response_model=ReportBody, response_model_exclude_none=True)
def create_report(body: ReportBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    return _create(REPORT, body, services, s, t)


@router.get("/reports/{report_id}", response_model=ReportBody, response_model_exclude_none=True)
def get_report(report_id: str, s: SessionDep, t: TenantDep):
    return to_json(service.to_proto(REPORT, service.get(s, t, REPORT, report_id)))


@router.patch("/reports/{report_id}", response_model=ReportBody, response_model_exclude_none=True)
def update_report(report_id: str, body: ReportBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    return _patch(REPORT, report_id, body, services, s, t)


@router.delete("/reports/{report_id}", status_code=204, response_class=Response)
def delete_report(report_id: str, s: SessionDep, t: TenantDep):
    service.delete(s, t, REPORT, report_id)
