"""BudgetService, AlertService and ReportService over gRPC: messages in and out, the work in budgets.service,
budgets.evaluate (status) and budgets.preview."""

from __future__ import annotations

from typing import cast

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session, sessionmaker

from control_plane.budgets import service
from control_plane.budgets.evaluate import Status, budget_status
from control_plane.budgets.models import Budget
from control_plane.budgets.preview import Preview, preview, preview_finding
from control_plane.budgets.service import ALERT, BUDGET, REPORT
from control_plane.findings import raise_errors
from control_plane.findings import to_proto as finding_to_proto
from control_plane.messages import parse_day, to_data
from control_plane.models import Tenant, utcnow
from control_plane.rpc import tenant_rpc
from control_plane.secrets import SecretBox, secret_box
from control_plane.services import Services
from costory_proto.costory.v1 import alerting_pb2 as pb
from costory_proto.costory.v1 import alerting_pb2_grpc
from costory_schema.problems import Problem

MAX_PREVIEW_DAYS = 366
PREVIEW_READS = ("filters", "condition", "amount", "trailing_days", "percent")
"""What an alert's preview cannot do without (its defaulted fields aside)."""


def status_to_proto(budget_id: str, status: Status) -> pb.BudgetStatus:
    return pb.BudgetStatus(
        budget_id=budget_id,
        amount=str(status.amount),
        actual=str(status.actual),
        forecast=str(status.forecast),
        period_start=status.period_start.isoformat(),
        period_end=status.period_end.isoformat(),
        as_of=status.as_of.isoformat() if status.as_of else "",
        crossed=[
            pb.CrossedThreshold(percent=str(c.percent), of=c.of.value, threshold_amount=str(c.threshold_amount))
            for c in status.crossed
        ],
    )


def preview_to_proto(result: Preview) -> pb.PreviewAlertResponse:
    return pb.PreviewAlertResponse(
        start_date=result.start.isoformat() if result.start else "",
        end_date=result.end.isoformat() if result.end else "",
        firings=[
            pb.AlertFiring(day=f.day.isoformat(), cost=str(f.cost), threshold=str(f.threshold)) for f in result.firings
        ],
    )


def budget_status_of(
    services: Services, session: Session, tenant: Tenant, budget_id: str, day: str = ""
) -> pb.BudgetStatus:
    """GetBudgetStatus, for gRPC and REST: the period holding ``day`` (YYYY-MM-DD; today's UTC date when empty)."""
    today = parse_day(day, "date") if day else utcnow().date()
    budget = cast(Budget, service.get(session, tenant, BUDGET, budget_id))
    return status_to_proto(budget.id, budget_status(session, tenant, services.engine, budget, today))


def preview_of(services: Services, session: Session, tenant: Tenant, request: pb.PreviewAlertRequest):
    """PreviewAlert, for gRPC and REST: the alert checked, then its firings over the look-back."""
    data = to_data(request.alert)
    problems = [Problem((("alert", *p.path)), p.summary, p.detail) for p in service.check(session, tenant, ALERT, data)]
    if not 0 <= request.days <= MAX_PREVIEW_DAYS:
        detail = f"`days` is {request.days}; use 1 to {MAX_PREVIEW_DAYS} (90 when unset)."
        problems.append(Problem(("days",), "Invalid Value", detail))
    raise_errors(problems)
    return preview_to_proto(preview(session, tenant, services.engine, data, request.days))


class _Servicer:
    def __init__(self, services: Services):
        self.services = services
        self.sessions: sessionmaker[Session] = services.sessions

    @property
    def secrets(self) -> SecretBox:
        return secret_box(self.services.settings)


class BudgetServicer(_Servicer, alerting_pb2_grpc.BudgetServiceServicer):
    @tenant_rpc
    def CreateBudget(self, request, session: Session, tenant: Tenant):
        return service.to_proto(BUDGET, service.create(session, tenant, BUDGET, to_data(request.budget), self.secrets))

    @tenant_rpc
    def GetBudget(self, request, session: Session, tenant: Tenant):
        return service.to_proto(BUDGET, service.get(session, tenant, BUDGET, request.id))

    @tenant_rpc
    def UpdateBudget(self, request, session: Session, tenant: Tenant):
        data, mask = to_data(request.budget), list(request.update_mask.paths)
        row = service.update(session, tenant, BUDGET, request.budget.id, data, mask, self.secrets)
        return service.to_proto(BUDGET, row)

    @tenant_rpc
    def DeleteBudget(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete(session, tenant, BUDGET, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListBudgets(self, request, session: Session, tenant: Tenant) -> pb.ListBudgetsResponse:
        page = service.list_rules(session, tenant, BUDGET, request.page_size, request.page_token)
        return pb.ListBudgetsResponse(
            budgets=[service.to_proto(BUDGET, r) for r in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def GetBudgetStatus(self, request, session: Session, tenant: Tenant) -> pb.BudgetStatus:
        return budget_status_of(self.services, session, tenant, request.id, request.date)


class AlertServicer(_Servicer, alerting_pb2_grpc.AlertServiceServicer):
    @tenant_rpc
    def CreateAlert(self, request, session: Session, tenant: Tenant):
        return service.to_proto(ALERT, service.create(session, tenant, ALERT, to_data(request.alert), self.secrets))

    @tenant_rpc
    def GetAlert(self, request, session: Session, tenant: Tenant):
        return service.to_proto(ALERT, service.get(session, tenant, ALERT, request.id))

    @tenant_rpc
    def UpdateAlert(self, request, session: Session, tenant: Tenant):
        data, mask = to_data(request.alert), list(request.update_mask.paths)
        return service.to_proto(
            ALERT, service.update(session, tenant, ALERT, request.alert.id, data, mask, self.secrets)
        )

    @tenant_rpc
    def DeleteAlert(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete(session, tenant, ALERT, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListAlerts(self, request, session: Session, tenant: Tenant) -> pb.ListAlertsResponse:
        page = service.list_rules(session, tenant, ALERT, request.page_size, request.page_token)
        return pb.ListAlertsResponse(
            alerts=[service.to_proto(ALERT, r) for r in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def ValidateAlert(self, request, session: Session, tenant: Tenant) -> pb.ValidateAlertResponse:
        """The checks, then (when they pass and the values the preview reads are known) the 90-day firing preview
        as a warning. An optional value left to its default (`metric`, `dedup_hours`) is unknown at plan time: the
        preview takes the default."""
        data, unknown = to_data(request.alert), list(request.unknown_fields)
        findings = service.check(session, tenant, ALERT, data, unknown)
        if not findings and not any(path.split(".")[0].split("[")[0] in PREVIEW_READS for path in unknown):
            findings.append(preview_finding(preview(session, tenant, self.services.engine, data)))
        return pb.ValidateAlertResponse(findings=[finding_to_proto(f) for f in findings])

    @tenant_rpc
    def PreviewAlert(self, request, session: Session, tenant: Tenant) -> pb.PreviewAlertResponse:
        return preview_of(self.services, session, tenant, request)


class ReportServicer(_Servicer, alerting_pb2_grpc.ReportServiceServicer):
    @tenant_rpc
    def CreateReport(self, request, session: Session, tenant: Tenant):
        return service.to_proto(REPORT, service.create(session, tenant, REPORT, to_data(request.report), self.secrets))

    @tenant_rpc
    def GetReport(self, request, session: Session, tenant: Tenant):
        return service.to_proto(REPORT, service.get(session, tenant, REPORT, request.id))

    @tenant_rpc
    def UpdateReport(self, request, session: Session, tenant: Tenant):
        data, mask = to_data(request.report), list(request.update_mask.paths)
        row = service.update(session, tenant, REPORT, request.report.id, data, mask, self.secrets)
        return service.to_proto(REPORT, row)

    @tenant_rpc
    def DeleteReport(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete(session, tenant, REPORT, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListReports(self, request, session: Session, tenant: Tenant) -> pb.ListReportsResponse:
        page = service.list_rules(session, tenant, REPORT, request.page_size, request.page_token)
        return pb.ListReportsResponse(
            reports=[service.to_proto(REPORT, r) for r in page.items], next_page_token=page.next_page_token
        )


def add_to_server(server, services: Services) -> None:
    """Register the three servicers (what control_plane.server calls)."""
    alerting_pb2_grpc.add_BudgetServiceServicer_to_server(BudgetServicer(services), server)
    alerting_pb2_grpc.add_AlertServiceServicer_to_server(AlertServicer(services), server)
    alerting_pb2_grpc.add_ReportServiceServicer_to_server(ReportServicer(services), server)
