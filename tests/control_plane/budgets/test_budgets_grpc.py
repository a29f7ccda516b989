"""BudgetService, AlertService and ReportService over a real gRPC channel: save and read back, the webhook URL
sealed and never returned, errors naming the field, budget status and the alert preview on the hand-made March
(tests/control_plane/budgets/support.py), and one tenant never seeing another's."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.json_format import ParseDict
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from control_plane.budgets.models import Alert, Budget
from costory_proto.costory.v1 import alerting_pb2 as pb
from costory_proto.costory.v1 import alerting_pb2_grpc as pb_grpc
from costory_proto.costory.v1 import common_pb2, team_pb2, team_pb2_grpc
from tests.control_plane.budgets.support import CLAUDE_ONLY, seed_march

WEBHOOK = "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/v3ryS3cr3tT0k3n"
BUDGET = {
    "name": "Claude API",
    "filters": CLAUDE_ONLY,
    "amount": "5000",
    "thresholds": [
        {"percent": 30, "of": "ACTUAL"},
        {"percent": 50, "of": "ACTUAL"},
        {"percent": 100, "of": "FORECAST"},
        {"percent": 150, "of": "FORECAST"},
    ],
    "slack_webhook_url": WEBHOOK,
    "emails": ["finops@example.com"],
}
ALERT = {
    "name": "Claude daily",
    "filters": CLAUDE_ONLY,
    "condition": "ABOVE_AMOUNT",
    "amount": "250",
    "dedup_hours": 72,
}


def stubs(client):
    return (
        pb_grpc.BudgetServiceStub(client.channel),
        pb_grpc.AlertServiceStub(client.channel),
        pb_grpc.ReportServiceStub(client.channel),
    )


def message(kind, data: dict):
    return ParseDict(data, kind())


def violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            return [(v.field, v.description) for v in request.field_violations]
    return []


def refused(call, request) -> list[tuple[str, str]]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return violations(caught.value)


@pytest.fixture
def march(sessions, settings, tenant_a) -> str:
    return seed_march(sessions, settings.data_dir, tenant_a.tenant_id)


def test_a_budget_is_saved_with_its_defaults_and_without_its_webhook(tenant_a, sessions):
    budgets, _, _ = stubs(tenant_a)
    created = budgets.CreateBudget(pb.CreateBudgetRequest(budget=message(pb.Budget, BUDGET)))
    assert created.id.startswith("bud_")
    expected = message(pb.Budget, {**BUDGET, "id": created.id, "period": "MONTH", "metric": "BILLED"})
    expected.ClearField("slack_webhook_url")
    assert created == expected
    assert budgets.GetBudget(pb.GetBudgetRequest(id=created.id)) == expected
    assert list(budgets.ListBudgets(pb.ListBudgetsRequest()).budgets) == [expected]
    with sessions() as session:
        row = session.get(Budget, created.id)
        assert row is not None and row.slack_webhook_sealed
        dumped = session.execute(sa.text("SELECT * FROM budgets")).all()
    assert WEBHOOK not in repr(dumped) and "v3ryS3cr3tT0k3n" not in repr(dumped)


def test_update_replaces_the_fields_named_and_a_named_absent_webhook_is_removed(tenant_a, sessions):
    budgets, _, _ = stubs(tenant_a)
    created = budgets.CreateBudget(pb.CreateBudgetRequest(budget=message(pb.Budget, BUDGET)))
    change = message(pb.Budget, {"id": created.id, "name": "Claude", "period": "QUARTER"})
    updated = budgets.UpdateBudget(
        pb.UpdateBudgetRequest(budget=change, update_mask=FieldMask(paths=["name", "period", "slack_webhook_url"]))
    )
    assert (updated.name, updated.period, updated.amount, list(updated.emails)) == (
        "Claude",
        "QUARTER",
        "5000",
        ["finops@example.com"],
    )
    with sessions() as session:
        row = session.get(Budget, created.id)
        assert row is not None and row.slack_webhook_sealed is None
    assert refused(
        budgets.UpdateBudget, pb.UpdateBudgetRequest(budget=change, update_mask=FieldMask(paths=["id"]))
    ) == [
        (
            "id",
            "`id` cannot be updated; a budget's `name`, `filters`, `metric`, `slack_webhook_url`, `emails`, "
            "`team_ids`, `period`, `amount`, `thresholds` can.",
        )
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"amount": "12.345"},
            [
                (
                    "amount",
                    "`amount` is `12.345`; it must be a positive amount with at most two "
                    "decimals, such as `5000` or `1250.50`.",
                )
            ],
        ),
        ({"amount": "0"}, [("amount", "`amount` is 0; set an amount above zero.")]),
        (
            {"period": "WEEK"},
            [("period", "`period` is `WEEK`; it must be one of `MONTH`, `QUARTER`, `YEAR` (case-sensitive).")],
        ),
        (
            {"thresholds": [{"percent": 80, "of": "ACTUAL"}, {"percent": 80, "of": "ACTUAL"}]},
            [("thresholds[1]", "80% of the actual cost is listed twice; list each threshold once.")],
        ),
        (
            {"thresholds": [{"percent": 0, "of": "FORECAST"}]},
            [("thresholds[0].percent", "`percent` is 0; use a percent of the amount above 0 and at most 10000.")],
        ),
        (
            {"slack_webhook_url": "not a url"},
            [
                (
                    "slack_webhook_url",
                    "`slack_webhook_url` (sensitive, not shown) must be an incoming webhook URL such "
                    "as `https://hooks.slack.com/services/T000/B000/XXXX`.",
                )
            ],
        ),
        (
            {"emails": ["ok@example.com", "nobody"]},
            [("emails[1]", "`emails` is `nobody`; it must be an email address such as `name@example.com`.")],
        ),
        (
            {"team_ids": ["team_missing"]},
            [("team_ids[0]", "`team_missing` is not a team of this tenant; use the `id` of a `costory_team`.")],
        ),
        (
            {"filters": [{"field": "dimension:vd_missing", "operator": "IN", "values": ["a"]}]},
            [
                (
                    "filters[0].field",
                    "`dimension:vd_missing` names no virtual dimension of this tenant; use "
                    "`dimension:<id>` with the id of a `costory_virtual_dimension`.",
                )
            ],
        ),
    ],
    ids=[
        "amount-decimals",
        "amount-zero",
        "period",
        "duplicate-threshold",
        "percent",
        "webhook",
        "email",
        "team",
        "dimension",
    ],
)
def test_a_bad_budget_is_refused_naming_the_field(tenant_a, change, expected):
    budgets, _, _ = stubs(tenant_a)
    found = refused(budgets.CreateBudget, pb.CreateBudgetRequest(budget=message(pb.Budget, {**BUDGET, **change})))
    assert found == expected
    assert all("not a url" not in detail for _, detail in found)


def test_a_filter_the_query_model_refuses_is_refused_on_its_path(tenant_a):
    budgets, _, _ = stubs(tenant_a)
    bad = {**BUDGET, "filters": [{"field": "Nope", "operator": "IN", "values": ["x"]}]}
    [(field, detail)] = refused(budgets.CreateBudget, pb.CreateBudgetRequest(budget=message(pb.Budget, bad)))
    assert field == "filters[0].field" and detail.startswith("`Nope` is not a field; use `dimension:<id>`, `tag:<key>`")


def test_team_recipients_must_be_the_tenants(tenant_a, tenant_b):
    team = team_pb2_grpc.TeamServiceStub(tenant_b.channel).CreateTeam(
        team_pb2.CreateTeamRequest(team=team_pb2.Team(name="B's team"))
    )
    budgets, _, _ = stubs(tenant_a)
    assert refused(
        budgets.CreateBudget, pb.CreateBudgetRequest(budget=message(pb.Budget, {**BUDGET, "team_ids": [team.id]}))
    ) == [("team_ids[0]", f"`{team.id}` is not a team of this tenant; use the `id` of a `costory_team`.")]
    created = stubs(tenant_b)[0].CreateBudget(
        pb.CreateBudgetRequest(budget=message(pb.Budget, {**BUDGET, "team_ids": [team.id]}))
    )
    assert list(created.team_ids) == [team.id]


def test_budget_status_on_the_hand_made_march(tenant_a, march):
    # As of 2026-03-11 the Claude API cost of March 1-10 is 1810 (actual). Ten known days: the run rate of the last
    # seven (March 4-10: 1510 / 7 a day) over the 21 days left is 4530: forecast 6340.
    # Thresholds of 5000: 30% actual (1500) and 100% forecast (5000) are crossed; 50% actual (2500) and 150%
    # forecast (7500) are not.
    budgets, _, _ = stubs(tenant_a)
    created = budgets.CreateBudget(pb.CreateBudgetRequest(budget=message(pb.Budget, BUDGET)))
    status = budgets.GetBudgetStatus(pb.GetBudgetStatusRequest(id=created.id, date="2026-03-11"))
    assert status == pb.BudgetStatus(
        budget_id=created.id,
        amount="5000",
        actual="1810.00",
        forecast="6340.00",
        period_start="2026-03-01",
        period_end="2026-03-31",
        as_of="2026-03-10",
        crossed=[
            pb.CrossedThreshold(percent="30", of="ACTUAL", threshold_amount="1500.00"),
            pb.CrossedThreshold(percent="100", of="FORECAST", threshold_amount="5000.00"),
        ],
    )
    # As of March 5 (cost known through the 5th: 700; run rate 140 over the 26 days left): forecast 4340; no
    # threshold is reached (700 < 1500, 4340 < 5000).
    early = budgets.GetBudgetStatus(pb.GetBudgetStatusRequest(id=created.id, date="2026-03-05"))
    assert (early.actual, early.forecast, list(early.crossed)) == ("700.00", "4340.00", [])
    assert refused(budgets.GetBudgetStatus, pb.GetBudgetStatusRequest(id=created.id, date="March 5")) == [
        ("date", "`date` is `March 5`; use a UTC day as YYYY-MM-DD.")
    ]


def test_alert_preview_and_the_plan_warning(tenant_a, march):
    # Above 250 a day with 72 h between firings, over the 90 days to the last day of data (2025-12-11 - 2026-03-10):
    # the 5th (300) and the 10th (400); the 7th (260) is only 48 h after the 5th.
    _, alerts, _ = stubs(tenant_a)
    preview = alerts.PreviewAlert(pb.PreviewAlertRequest(alert=message(pb.Alert, ALERT)))
    assert preview == pb.PreviewAlertResponse(
        start_date="2025-12-11",
        end_date="2026-03-10",
        firings=[
            pb.AlertFiring(day="2026-03-05", cost="300.00", threshold="250.00"),
            pb.AlertFiring(day="2026-03-10", cost="400.00", threshold="250.00"),
        ],
    )
    validated = alerts.ValidateAlert(pb.ValidateAlertRequest(alert=message(pb.Alert, ALERT)))
    assert list(validated.findings) == [
        common_pb2.Finding(
            severity=common_pb2.Finding.WARNING,
            summary="Alert Preview (Last 90 Days)",
            detail="Over 2025-12-11 – 2026-03-10 this alert would have fired on 2 days; the last:\n"
            "  2026-03-10: $400.00 (above $250.00)\n"
            "  2026-03-05: $300.00 (above $250.00)",
        )
    ]
    # All of the tenant's cost (+50 a day), 24 h: the 5th (350), 7th (310), 8th (300) and 10th (450).
    everything = {k: v for k, v in ALERT.items() if k not in ("filters", "dedup_hours")}
    days = [f.day for f in alerts.PreviewAlert(pb.PreviewAlertRequest(alert=message(pb.Alert, everything))).firings]
    assert days == ["2026-03-05", "2026-03-07", "2026-03-08", "2026-03-10"]


def test_validate_skips_what_is_not_known_yet_and_reports_errors_as_findings(tenant_a, march):
    _, alerts, _ = stubs(tenant_a)
    # A name not known yet: no error for it, and the preview does not need it.
    unknown_name = alerts.ValidateAlert(
        pb.ValidateAlertRequest(alert=message(pb.Alert, {**ALERT, "name": ""}), unknown_fields=["name"])
    )
    assert [(f.severity, f.summary) for f in unknown_name.findings] == [
        (common_pb2.Finding.WARNING, "Alert Preview (Last 90 Days)")
    ]
    # An amount not known yet: no "needs `amount`" error, and no preview.
    without_amount = {k: v for k, v in ALERT.items() if k != "amount"}
    unknown_amount = alerts.ValidateAlert(
        pb.ValidateAlertRequest(alert=message(pb.Alert, without_amount), unknown_fields=["amount"])
    )
    assert list(unknown_amount.findings) == []
    wrong = alerts.ValidateAlert(pb.ValidateAlertRequest(alert=message(pb.Alert, {**ALERT, "trailing_days": 7})))
    assert [(f.severity, f.field, f.detail) for f in wrong.findings] == [
        (common_pb2.Finding.ERROR, "trailing_days", "`trailing_days` has no meaning for `ABOVE_AMOUNT`; remove it.")
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"condition": "ABOVE_AMOUNT"}, [("amount", "`ABOVE_AMOUNT` needs `amount`; set it.")]),
        (
            {"condition": "ABOVE_TRAILING_AVERAGE", "trailing_days": 7},
            [("percent", "`ABOVE_TRAILING_AVERAGE` needs `percent`; set it.")],
        ),
        (
            {"condition": "ABOVE_TRAILING_AVERAGE", "trailing_days": 91, "percent": 10, "amount": "5"},
            [
                ("amount", "`amount` has no meaning for `ABOVE_TRAILING_AVERAGE`; remove it."),
                ("trailing_days", "`trailing_days` is 91; use 1 to 90."),
            ],
        ),
        (
            {"condition": "ABOVE_AMOUNT", "amount": "5", "dedup_hours": 0},
            [("dedup_hours", "`dedup_hours` is 0; use 1 to 8784.")],
        ),
    ],
    ids=["amount-missing", "percent-missing", "conflicting-and-range", "dedup"],
)
def test_a_bad_alert_condition_is_refused_naming_the_field(tenant_a, data, expected):
    _, alerts, _ = stubs(tenant_a)
    assert (
        refused(alerts.CreateAlert, pb.CreateAlertRequest(alert=message(pb.Alert, {"name": "a", **data}))) == expected
    )


def test_an_alert_keeps_its_defaults(tenant_a, sessions):
    _, alerts, _ = stubs(tenant_a)
    created = alerts.CreateAlert(pb.CreateAlertRequest(alert=message(pb.Alert, {**ALERT, "dedup_hours": None})))
    assert (created.dedup_hours, created.metric, created.HasField("percent")) == (24, "BILLED", False)
    with sessions() as session:
        row = session.get(Alert, created.id)
        assert row is not None and (row.last_fired_on, row.evaluated_through) == (None, None)


def test_a_report_needs_a_dimension_of_the_tenant(tenant_a, march):
    _, _, reports = stubs(tenant_a)
    report = {"name": "Weekly by service", "dimension_id": march, "frequency": "WEEKLY"}
    created = reports.CreateReport(pb.CreateReportRequest(report=message(pb.Report, report)))
    assert (created.top_n, created.metric, created.dimension_id) == (10, "BILLED", march)
    assert refused(
        reports.CreateReport,
        pb.CreateReportRequest(report=message(pb.Report, {**report, "dimension_id": "vd_nope", "top_n": 51})),
    ) == [
        (
            "dimension_id",
            "`vd_nope` is not a virtual dimension of this tenant; use the `id` of a `costory_virtual_dimension`.",
        ),
        ("top_n", "`top_n` is 51; use 1 to 50."),
    ]


def test_another_tenant_finds_nothing(tenant_a, tenant_b):
    budgets, _, _ = stubs(tenant_a)
    created = budgets.CreateBudget(pb.CreateBudgetRequest(budget=message(pb.Budget, BUDGET)))
    other, _, _ = stubs(tenant_b)
    for call, request in (
        (other.GetBudget, pb.GetBudgetRequest(id=created.id)),
        (other.GetBudgetStatus, pb.GetBudgetStatusRequest(id=created.id)),
        (other.DeleteBudget, pb.DeleteBudgetRequest(id=created.id)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call(request)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert list(other.ListBudgets(pb.ListBudgetsRequest()).budgets) == []
    budgets.DeleteBudget(pb.DeleteBudgetRequest(id=created.id))
    assert list(budgets.ListBudgets(pb.ListBudgetsRequest()).budgets) == []


def test_a_bad_preview_is_refused_naming_the_request_fields(tenant_a):
    _, alerts, _ = stubs(tenant_a)
    request = pb.PreviewAlertRequest(alert=message(pb.Alert, {"name": "a", "condition": "ABOVE_AMOUNT"}), days=400)
    assert refused(alerts.PreviewAlert, request) == [
        ("alert.amount", "`ABOVE_AMOUNT` needs `amount`; set it."),
        ("days", "`days` is 400; use 1 to 366 (90 when unset)."),
    ]


def test_a_preview_without_cost_data_says_so(tenant_a):
    _, alerts, _ = stubs(tenant_a)
    assert alerts.PreviewAlert(pb.PreviewAlertRequest(alert=message(pb.Alert, ALERT))) == pb.PreviewAlertResponse()
    validated = alerts.ValidateAlert(pb.ValidateAlertRequest(alert=message(pb.Alert, ALERT)))
    assert [f.detail for f in validated.findings] == ["No cost data yet: the alert's past firings cannot be previewed."]
