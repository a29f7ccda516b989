from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from costory_proto.costory.v1 import common_pb2
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb

ROLE_ARN = "arn:aws:iam::123456789012:role/costory-read"


def metric(name: str, **fields) -> pb.MetricDefinition:
    values = dict(
        metric_name=name,
        gap_filling="ZERO",
        aggregation="SUM",
        value_column="value",
        date_column="day",
    )
    return pb.MetricDefinition(**{**values, **fields})


def datasource(**fields) -> pb.MetricsDatasource:
    values = dict(
        name="usage",
        bucket_name="acme-metrics",
        prefix="daily/",
        role_arn=ROLE_ARN,
        metrics_definition=[
            metric("requests", dimensions=["team", "region"], unit="count"),
            metric("storage_gb", gap_filling="FORWARD_FILL", aggregation="Average", unit=""),
            metric("active_users", gap_filling="LINEAR_INTERPOLATION", value_column="users"),
        ],
    )
    return pb.MetricsDatasource(**{**values, **fields})


def create(client, message: pb.MetricsDatasource | None = None) -> pb.MetricsDatasource:
    return client.metrics.CreateMetricsDatasource(
        pb.CreateMetricsDatasourceRequest(metrics_datasource=message or datasource())
    )


def get(client, datasource_id: str) -> pb.MetricsDatasource:
    return client.metrics.GetMetricsDatasource(pb.GetMetricsDatasourceRequest(id=datasource_id))


def update(client, message: pb.MetricsDatasource, *paths: str) -> pb.MetricsDatasource:
    return client.metrics.UpdateMetricsDatasource(
        pb.UpdateMetricsDatasourceRequest(
            metrics_datasource=message, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
        )
    )


def delete(client, datasource_id: str) -> None:
    client.metrics.DeleteMetricsDatasource(pb.DeleteMetricsDatasourceRequest(id=datasource_id))


def list_page(client, page_size: int = 0, page_token: str = "") -> pb.ListMetricsDatasourcesResponse:
    return client.metrics.ListMetricsDatasources(
        pb.ListMetricsDatasourcesRequest(page_size=page_size, page_token=page_token)
    )


def field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)
    bad_request = error_details_pb2.BadRequest()
    assert len(status.details) == 1 and status.details[0].Unpack(bad_request)
    return [(v.field, v.description) for v in bad_request.field_violations]


def expected(created_id: str, message: pb.MetricsDatasource) -> pb.MetricsDatasource:
    out = pb.MetricsDatasource()
    out.CopyFrom(message)
    out.id, out.status, out.type = created_id, "PENDING", "AwsS3V2"
    return out


Mutation = Callable[[pb.MetricsDatasource], None]


def _set(path: str, value: str) -> Mutation:
    def mutate(message: pb.MetricsDatasource) -> None:
        target = message
        *parents, leaf = path.split(".")
        for step in parents:
            name, _, index = step.partition("[")
            target = getattr(target, name)[int(index.rstrip("]"))]
        setattr(target, leaf, value)

    return mutate


INVALID = [
    pytest.param(
        _set("role_arn", "arn:aws:s3:::acme-metrics"),
        "role_arn",
        "`role_arn` is `arn:aws:s3:::acme-metrics`; "
        "it must be an IAM role ARN, `arn:<partition>:iam::<account>:role/<name>`.",
        id="bad-role-arn",
    ),
    pytest.param(
        _set("metrics_definition[0].gap_filling", "BACKFILL"),
        "metrics_definition[0].gap_filling",
        "`gap_filling` is `BACKFILL`; it must be one of `ZERO`, `FORWARD_FILL`, `LINEAR_INTERPOLATION`, "
        "`SPREAD` (case-sensitive).",
        id="unknown-gap-filling",
    ),
    pytest.param(
        _set("metrics_definition[1].aggregation", "AVG"),
        "metrics_definition[1].aggregation",
        "`aggregation` is `AVG`; it must be one of `SUM`, `Average` (case-sensitive).",
        id="unknown-aggregation",
    ),
    pytest.param(
        _set("metrics_definition[2].metric_name", ""),
        "metrics_definition[2].metric_name",
        "`metric_name` must not be empty.",
        id="empty-metric-name",
    ),
    pytest.param(
        _set("metrics_definition[2].metric_name", "requests"),
        "metrics_definition[2].metric_name",
        "`metric_name` `requests` is already used by metrics_definition[0]; "
        "each `metric_name` must be unique.",
        id="duplicate-metric-name",
    ),
    pytest.param(
        _set("metrics_definition[1].value_column", "day"),
        "metrics_definition[1].value_column",
        "`value_column` and `date_column` are both `day`; they must name different columns.",
        id="value-column-is-date-column",
    ),
]


class TestCreateMetricsDatasource:
    def test_returns_the_datasource_with_id_pending_status_and_type(self, tenant_a):
        created = create(tenant_a)

        assert created.id.startswith("mds_")
        assert created == expected(created.id, datasource())

    @pytest.mark.parametrize(("mutate", "field", "description"), INVALID)
    def test_rejects_rule_violations_naming_the_field(self, tenant_a, mutate, field, description):
        message = datasource()
        mutate(message)

        with pytest.raises(grpc.RpcError) as caught:
            create(tenant_a, message)

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(caught.value) == [(field, description)]
        assert caught.value.details() == f"{field}: {description}"
        assert list(list_page(tenant_a).metrics_datasources) == []


class TestGetMetricsDatasource:
    def test_round_trips_every_field_in_order(self, tenant_a):
        created = create(tenant_a)

        fetched = get(tenant_a, created.id)

        assert fetched == expected(created.id, datasource())
        names = [m.metric_name for m in fetched.metrics_definition]
        assert names == ["requests", "storage_gb", "active_users"]

    def test_keeps_unset_prefix_and_unit_unset(self, tenant_a):
        message = datasource(metrics_definition=[metric("requests")])
        message.ClearField("prefix")

        fetched = get(tenant_a, create(tenant_a, message).id)

        assert not fetched.HasField("prefix")
        assert not fetched.metrics_definition[0].HasField("unit")

    def test_keeps_empty_prefix_and_unit_set(self, tenant_a):
        message = datasource(prefix="", metrics_definition=[metric("requests", unit="")])

        fetched = get(tenant_a, create(tenant_a, message).id)

        assert fetched.HasField("prefix") and fetched.prefix == ""
        assert fetched.metrics_definition[0].HasField("unit") and fetched.metrics_definition[0].unit == ""

    def test_unknown_id_is_not_found(self, tenant_a):
        with pytest.raises(grpc.RpcError) as caught:
            get(tenant_a, "mds_does_not_exist")

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert caught.value.details() == "metrics datasource 'mds_does_not_exist' not found"


class TestUpdateMetricsDatasource:
    def test_replaces_metrics_definition_in_place(self, tenant_a):
        created = create(tenant_a)
        new_definitions = [metric("cpu_hours", unit="h"), metric("requests", dimensions=["service"])]

        message = pb.MetricsDatasource(id=created.id, metrics_definition=new_definitions)

        updated = update(tenant_a, message, "metrics_definition")

        want = expected(created.id, datasource(metrics_definition=new_definitions))
        assert updated == want
        assert get(tenant_a, created.id) == want

    def test_empty_mask_accepts_unchanged_immutable_fields(self, tenant_a):
        created = create(tenant_a)
        message = datasource(metrics_definition=[metric("cpu_hours")])
        message.id = created.id

        updated = update(tenant_a, message)

        assert updated == expected(created.id, message)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", "renamed"),
            ("bucket_name", "other-bucket"),
            ("prefix", "hourly/"),
            ("role_arn", ROLE_ARN + "2"),
        ],
    )
    def test_rejects_changing_an_immutable_field(self, tenant_a, field, value):
        created = create(tenant_a)
        message = datasource(**{field: value})
        message.id = created.id

        with pytest.raises(grpc.RpcError) as caught:
            update(tenant_a, message, field, "metrics_definition")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(caught.value) == [
            (
                field,
                f"`{field}` cannot be changed after creation; only `metrics_definition` is updated in place. "
                "Create a new datasource to change it.",
            )
        ]
        assert get(tenant_a, created.id) == created

    def test_rejects_invalid_metrics_definition(self, tenant_a):
        created = create(tenant_a)
        definitions = [metric("requests"), metric("cpu_hours", aggregation="MAX")]

        message = pb.MetricsDatasource(id=created.id, metrics_definition=definitions)

        with pytest.raises(grpc.RpcError) as caught:
            update(tenant_a, message, "metrics_definition")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(caught.value) == [
            (
                "metrics_definition[1].aggregation",
                "`aggregation` is `MAX`; it must be one of `SUM`, `Average` (case-sensitive).",
            )
        ]
        assert get(tenant_a, created.id) == created

    def test_unknown_id_is_not_found(self, tenant_a):
        with pytest.raises(grpc.RpcError) as caught:
            update(tenant_a, datasource(id="mds_missing"), "metrics_definition")

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


class TestDeleteMetricsDatasource:
    def test_then_get_is_not_found(self, tenant_a):
        created = create(tenant_a)

        delete(tenant_a, created.id)

        with pytest.raises(grpc.RpcError) as caught:
            get(tenant_a, created.id)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    def test_twice_is_not_found_the_second_time(self, tenant_a):
        created = create(tenant_a)
        delete(tenant_a, created.id)

        with pytest.raises(grpc.RpcError) as caught:
            delete(tenant_a, created.id)

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert caught.value.details() == f"metrics datasource '{created.id}' not found"


class TestListMetricsDatasources:
    def test_pages_through_five_with_page_size_two(self, tenant_a):
        ids = [create(tenant_a, datasource(name=f"usage-{i}")).id for i in range(5)]

        first = list_page(tenant_a, page_size=2)
        second = list_page(tenant_a, page_size=2, page_token=first.next_page_token)
        third = list_page(tenant_a, page_size=2, page_token=second.next_page_token)

        assert [d.id for d in first.metrics_datasources] == ids[0:2]
        assert [d.id for d in second.metrics_datasources] == ids[2:4]
        assert [d.id for d in third.metrics_datasources] == ids[4:5]
        assert first.next_page_token and second.next_page_token
        assert third.next_page_token == ""
        assert [d.name for d in third.metrics_datasources] == ["usage-4"]

    def test_default_page_size_returns_everything(self, tenant_a):
        ids = [create(tenant_a).id for _ in range(3)]

        page = list_page(tenant_a)

        assert [d.id for d in page.metrics_datasources] == ids
        assert page.next_page_token == ""

    def test_rejects_a_garbage_page_token(self, tenant_a):
        with pytest.raises(grpc.RpcError) as caught:
            list_page(tenant_a, page_token="not-a-token")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(caught.value) == [
            ("page_token", "`page_token` is not a token returned by this list.")
        ]


class TestValidateMetricsDatasource:
    def test_valid_datasource_has_no_findings(self, tenant_a):
        response = tenant_a.metrics.ValidateMetricsDatasource(
            pb.ValidateMetricsDatasourceRequest(metrics_datasource=datasource())
        )

        assert list(response.findings) == []

    @pytest.mark.parametrize(("mutate", "field", "description"), INVALID)
    def test_returns_findings_without_saving(self, tenant_a, mutate, field, description):
        message = datasource()
        mutate(message)

        response = tenant_a.metrics.ValidateMetricsDatasource(
            pb.ValidateMetricsDatasourceRequest(metrics_datasource=message)
        )

        assert [(f.severity, f.field, f.detail) for f in response.findings] == [
            (common_pb2.Finding.ERROR, field, description)
        ]
        assert response.findings[0].summary
        assert list(list_page(tenant_a).metrics_datasources) == []


class TestRoleOwnership:
    def test_a_role_registered_by_one_tenant_is_refused_for_another(self, tenant_a, tenant_b):
        create(tenant_a)
        with pytest.raises(grpc.RpcError) as raised:
            create(tenant_b, datasource(name="b-usage"))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(raised.value) == [
            (
                "role_arn",
                f"`{ROLE_ARN}` is already registered by another Costory tenant. A role can serve one tenant only: "
                "create a role of your own whose trust policy pins `data.costory_service_account.current.sub_ids`.",
            )
        ]
        assert list(list_page(tenant_b).metrics_datasources) == []

    def test_the_same_tenant_may_reuse_its_role(self, tenant_a):
        create(tenant_a)
        create(tenant_a, datasource(name="second"))
        assert len(list_page(tenant_a).metrics_datasources) == 2


class TestTenantIsolation:
    @pytest.mark.parametrize(
        "call",
        [
            pytest.param(lambda client, ds: get(client, ds.id), id="get"),
            pytest.param(lambda client, ds: update(client, ds, "metrics_definition"), id="update"),
            pytest.param(lambda client, ds: delete(client, ds.id), id="delete"),
        ],
    )
    def test_another_tenants_datasource_is_not_found(self, tenant_a, tenant_b, call):
        created = create(tenant_a)

        with pytest.raises(grpc.RpcError) as caught:
            call(tenant_b, created)

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert get(tenant_a, created.id) == created

    def test_list_shows_only_own_datasources(self, tenant_a, tenant_b):
        created = create(tenant_a)
        assert list(list_page(tenant_b).metrics_datasources) == []

        own = create(tenant_b, datasource(name="b-usage", role_arn="arn:aws:iam::210987654321:role/costory-read"))

        assert [d.id for d in list_page(tenant_b).metrics_datasources] == [own.id]
        assert [d.id for d in list_page(tenant_a).metrics_datasources] == [created.id]


class TestDefinitionChangeForgetsImportedValues:
    """New definitions change what the files mean: values of changed or removed metrics go, and every
    file is read again at the next import; unchanged metrics keep their values meanwhile."""

    def seed(self, sessions, datasource_id: str) -> None:
        from datetime import UTC, date, datetime

        from control_plane.models import MetricDay, MetricFile, MetricValue

        with sessions.begin() as session:
            stamp = datetime(2026, 1, 2, tzinfo=UTC)
            session.add(
                MetricFile(
                    datasource_id=datasource_id, key="daily/a.parquet", etag="e1", size=1,
                    last_modified=stamp, status="LOADED", rows=2,
                )
            )  # fmt: skip
            for name in ("requests", "storage_gb", "active_users"):
                session.add(
                    MetricValue(
                        datasource_id=datasource_id, metric_name=name, day=date(2026, 1, 1),
                        dimensions={}, value=1.0, row_count=1,
                    )
                )  # fmt: skip
                session.add(
                    MetricDay(
                        datasource_id=datasource_id, metric_name=name, day=date(2026, 1, 1),
                        file_last_modified=stamp, file_key="daily/a.parquet",
                    )
                )  # fmt: skip

    def remaining(self, sessions, datasource_id: str) -> tuple[list[str], int]:
        import sqlalchemy as sa

        from control_plane.models import MetricFile, MetricValue

        with sessions() as session:
            names = session.scalars(
                sa.select(MetricValue.metric_name)
                .where(MetricValue.datasource_id == datasource_id)
                .order_by(MetricValue.metric_name)
            ).all()
            files = session.scalar(
                sa.select(sa.func.count()).select_from(MetricFile).where(MetricFile.datasource_id == datasource_id)
            )
        return list(names), files

    def test_changed_and_removed_metrics_lose_their_values(self, tenant_a, sessions):
        created = create(tenant_a)
        self.seed(sessions, created.id)
        definitions = list(created.metrics_definition)
        changed = pb.MetricDefinition()
        changed.CopyFrom(definitions[1])
        changed.value_column = "gigabytes"
        update(
            tenant_a,
            pb.MetricsDatasource(id=created.id, metrics_definition=[definitions[0], changed]),
            "metrics_definition",
        )
        assert self.remaining(sessions, created.id) == (["requests"], 0)

    def test_an_unchanged_list_keeps_everything(self, tenant_a, sessions):
        created = create(tenant_a)
        self.seed(sessions, created.id)
        update(
            tenant_a,
            pb.MetricsDatasource(id=created.id, metrics_definition=created.metrics_definition),
            "metrics_definition",
        )
        assert self.remaining(sessions, created.id) == (["active_users", "requests", "storage_gb"], 1)
