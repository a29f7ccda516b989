from costory_proto.costory.v1 import common_pb2 as _common_pb2
from costory_proto.costory.v1 import options_pb2 as _options_pb2
from costory_proto.costory.v1 import query_pb2 as _query_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Budget(_message.Message):
    __slots__ = ("id", "name", "filters", "period", "amount", "metric", "thresholds", "slack_webhook_url", "emails", "team_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    SLACK_WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    TEAM_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    filters: _containers.RepeatedCompositeFieldContainer[_query_pb2.QueryFilter]
    period: str
    amount: str
    metric: str
    thresholds: _containers.RepeatedCompositeFieldContainer[BudgetThreshold]
    slack_webhook_url: str
    emails: _containers.RepeatedScalarFieldContainer[str]
    team_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[_query_pb2.QueryFilter, _Mapping]]] = ..., period: _Optional[str] = ..., amount: _Optional[str] = ..., metric: _Optional[str] = ..., thresholds: _Optional[_Iterable[_Union[BudgetThreshold, _Mapping]]] = ..., slack_webhook_url: _Optional[str] = ..., emails: _Optional[_Iterable[str]] = ..., team_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BudgetThreshold(_message.Message):
    __slots__ = ("percent", "of")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    OF_FIELD_NUMBER: _ClassVar[int]
    percent: float
    of: str
    def __init__(self, percent: _Optional[float] = ..., of: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "name", "filters", "condition", "amount", "trailing_days", "percent", "dedup_hours", "metric", "slack_webhook_url", "emails", "team_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TRAILING_DAYS_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    DEDUP_HOURS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SLACK_WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    TEAM_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    filters: _containers.RepeatedCompositeFieldContainer[_query_pb2.QueryFilter]
    condition: str
    amount: str
    trailing_days: int
    percent: float
    dedup_hours: int
    metric: str
    slack_webhook_url: str
    emails: _containers.RepeatedScalarFieldContainer[str]
    team_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[_query_pb2.QueryFilter, _Mapping]]] = ..., condition: _Optional[str] = ..., amount: _Optional[str] = ..., trailing_days: _Optional[int] = ..., percent: _Optional[float] = ..., dedup_hours: _Optional[int] = ..., metric: _Optional[str] = ..., slack_webhook_url: _Optional[str] = ..., emails: _Optional[_Iterable[str]] = ..., team_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("id", "name", "dimension_id", "frequency", "filters", "top_n", "metric", "slack_webhook_url", "emails", "team_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_ID_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    SLACK_WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    TEAM_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    dimension_id: str
    frequency: str
    filters: _containers.RepeatedCompositeFieldContainer[_query_pb2.QueryFilter]
    top_n: int
    metric: str
    slack_webhook_url: str
    emails: _containers.RepeatedScalarFieldContainer[str]
    team_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., dimension_id: _Optional[str] = ..., frequency: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[_query_pb2.QueryFilter, _Mapping]]] = ..., top_n: _Optional[int] = ..., metric: _Optional[str] = ..., slack_webhook_url: _Optional[str] = ..., emails: _Optional[_Iterable[str]] = ..., team_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BudgetStatus(_message.Message):
    __slots__ = ("budget_id", "amount", "actual", "forecast", "period_start", "period_end", "as_of", "crossed")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    FORECAST_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CROSSED_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    amount: str
    actual: str
    forecast: str
    period_start: str
    period_end: str
    as_of: str
    crossed: _containers.RepeatedCompositeFieldContainer[CrossedThreshold]
    def __init__(self, budget_id: _Optional[str] = ..., amount: _Optional[str] = ..., actual: _Optional[str] = ..., forecast: _Optional[str] = ..., period_start: _Optional[str] = ..., period_end: _Optional[str] = ..., as_of: _Optional[str] = ..., crossed: _Optional[_Iterable[_Union[CrossedThreshold, _Mapping]]] = ...) -> None: ...

class CrossedThreshold(_message.Message):
    __slots__ = ("percent", "of", "threshold_amount")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    OF_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    percent: str
    of: str
    threshold_amount: str
    def __init__(self, percent: _Optional[str] = ..., of: _Optional[str] = ..., threshold_amount: _Optional[str] = ...) -> None: ...

class AlertFiring(_message.Message):
    __slots__ = ("day", "cost", "threshold")
    DAY_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    day: str
    cost: str
    threshold: str
    def __init__(self, day: _Optional[str] = ..., cost: _Optional[str] = ..., threshold: _Optional[str] = ...) -> None: ...

class PreviewAlertRequest(_message.Message):
    __slots__ = ("alert", "days")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    days: int
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., days: _Optional[int] = ...) -> None: ...

class PreviewAlertResponse(_message.Message):
    __slots__ = ("start_date", "end_date", "firings")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    FIRINGS_FIELD_NUMBER: _ClassVar[int]
    start_date: str
    end_date: str
    firings: _containers.RepeatedCompositeFieldContainer[AlertFiring]
    def __init__(self, start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., firings: _Optional[_Iterable[_Union[AlertFiring, _Mapping]]] = ...) -> None: ...

class ValidateAlertRequest(_message.Message):
    __slots__ = ("alert", "unknown_fields")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELDS_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    unknown_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., unknown_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ValidateAlertResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBudgetRequest(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class GetBudgetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBudgetRequest(_message.Message):
    __slots__ = ("budget", "update_mask")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBudgetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBudgetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBudgetsResponse(_message.Message):
    __slots__ = ("budgets", "next_page_token")
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    budgets: _containers.RepeatedCompositeFieldContainer[Budget]
    next_page_token: str
    def __init__(self, budgets: _Optional[_Iterable[_Union[Budget, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetBudgetStatusRequest(_message.Message):
    __slots__ = ("id", "date")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    date: str
    def __init__(self, id: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class CreateAlertRequest(_message.Message):
    __slots__ = ("alert",)
    ALERT_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...

class GetAlertRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateAlertRequest(_message.Message):
    __slots__ = ("alert", "update_mask")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteAlertRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts", "next_page_token")
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    next_page_token: str
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateReportRequest(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: Report
    def __init__(self, report: _Optional[_Union[Report, _Mapping]] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateReportRequest(_message.Message):
    __slots__ = ("report", "update_mask")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    report: Report
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, report: _Optional[_Union[Report, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteReportRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListReportsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[Report]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[Report, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
