"""A dimension's definition and its results are saved together or not at all; warnings stay warnings.

Cost data: the guide's CUR month (17 rows, $1,171.00: API Gateway $1,000.00 + its $80.00 tax line, EC2 $79.00,
S3 $12.00). The dimension used here:

    rule     condition                                   value      cost
    ec2      ServiceName = Amazon Elastic Compute Cloud  Compute    79.00
    bedrock  ServiceName = Amazon Bedrock                AI         (no row yet: a warning, not a failure)
    (none)                                               Unallocated 1,092.00
"""

from __future__ import annotations

import os
import time

import grpc
import pyarrow as pa
import pytest
import sqlalchemy as sa
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from control_plane.allocation import AllocationError, ConservationError
from control_plane.billing.cur import normalize
from control_plane.datastore import DataStore
from control_plane.dimensions import compute, results
from control_plane.dimensions.compute import Engine
from control_plane.dimensions.service import recompute_tenant
from control_plane.dimensions.summary import SUMMARY_SCHEMA
from control_plane.models import Dimension
from costory_proto.costory.v1 import common_pb2, cost_pb2, query_pb2
from costory_proto.costory.v1 import virtual_dimension_pb2 as pb
from devtools.sample_cur import guide_cur
from devtools.seed import seed_month

EC2 = "Amazon Elastic Compute Cloud"
UNMATCHED = (
    "Rule `bedrock` matched none of the 17 cost rows held: check its conditions, or an earlier rule takes those "
    "rows first."
)


@pytest.fixture
def costs(tenant_a, sessions, settings):
    table = normalize(guide_cur(), datasource_id="bds_guide", billing_period="2026-01", partition_id=1)
    seed_month(sessions, settings.data_dir, tenant_a.tenant_id, "bds_guide", "2026-01", table)


def rule(name: str, service: str, value: str, operator: str = "EQUALS") -> pb.DimensionRule:
    condition = pb.RuleCondition(column="ServiceName", operator=operator, values=[service])
    return pb.DimensionRule(name=name, conditions=[condition], value=value)


def dimension(*rules: pb.DimensionRule, id: str = "") -> pb.VirtualDimension:
    return pb.VirtualDimension(id=id, name="team", rules=list(rules))


def create(client, message: pb.VirtualDimension) -> pb.VirtualDimension:
    return client.dimensions.CreateVirtualDimension(pb.CreateVirtualDimensionRequest(virtual_dimension=message))


def update(client, message: pb.VirtualDimension) -> pb.VirtualDimension:
    mask = field_mask_pb2.FieldMask(paths=["rules"])
    return client.dimensions.UpdateVirtualDimension(
        pb.UpdateVirtualDimensionRequest(virtual_dimension=message, update_mask=mask)
    )


def served(client, dimension_id: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(status, cost per value from GetAllocationState, cost per value from QueryCosts)."""
    state = client.dimensions.GetAllocationState(pb.GetAllocationStateRequest(id=dimension_id))
    by = f"dimension:{dimension_id}"
    query = client.costs.QueryCosts(
        cost_pb2.QueryCostsRequest(
            query=query_pb2.CostQuery(
                start_date="2026-01-01", end_date="2026-01-31", granularity="MONTH", group_by=[by]
            )
        )
    )
    return (
        state.status,
        {v.value: v.cost for v in state.values},
        {r.group[by]: r.cost for r in query.rows},
    )


def files(settings, tenant_id: str) -> list[str]:
    """The results in the store, as the pointers naming them (a computation's folder, or a legacy file)."""
    base = compute.tenant_folder(tenant_id)
    keys = [o.key[len(base) + 1 :] for o in DataStore.local(settings.data_dir).list(base)]
    return sorted({"/".join(key.split("/")[:2]) for key in keys})


def pointer(sessions, dimension_id: str) -> str | None:
    with sessions.begin() as session:
        return session.scalar(sa.select(Dimension.allocation_file).where(Dimension.id == dimension_id))


def warnings(message: pb.VirtualDimension) -> list[tuple[int, str, str, str]]:
    return [(f.severity, f.field, f.summary, f.detail) for f in message.findings]


class TestARuleMatchingNothingIsAWarning:
    def test_create(self, tenant_a, costs):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute"), rule("bedrock", "Amazon Bedrock", "AI")))

        assert (created.status, created.status_message) == ("COMPUTED", UNMATCHED)
        assert warnings(created) == [(common_pb2.Finding.WARNING, "rules[1]", "Rule Matches No Cost", UNMATCHED)]
        values = {"Compute": "79.00", "Unallocated": "1092.00"}
        assert served(tenant_a, created.id) == ("COMPUTED", values, values)

    def test_update(self, tenant_a, costs):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute")))
        assert (created.status_message, warnings(created)) == ("", [])

        updated = update(
            tenant_a, dimension(rule("ec2", EC2, "Compute"), rule("bedrock", "Amazon Bedrock", "AI"), id=created.id)
        )

        assert (updated.status, updated.status_message) == ("COMPUTED", UNMATCHED)
        assert warnings(updated) == [(common_pb2.Finding.WARNING, "rules[1]", "Rule Matches No Cost", UNMATCHED)]

    def test_recompute_after_new_cost_data(self, tenant_a, costs, sessions, settings):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute"), rule("bedrock", "Amazon Bedrock", "AI")))

        with sessions.begin() as session:  # what a billing import calls once its month is loaded
            assert recompute_tenant(session, tenant_a.tenant_id, Engine.local(settings.data_dir)) == 1

        got = tenant_a.dimensions.GetVirtualDimension(pb.GetVirtualDimensionRequest(id=created.id))
        assert (got.status, got.status_message) == ("COMPUTED", UNMATCHED)

    def test_without_any_cost_data_the_dimension_waits_for_it(self, tenant_a, sessions, settings):
        created = create(tenant_a, dimension(rule("bedrock", "Amazon Bedrock", "AI")))

        assert (created.status, created.status_message, warnings(created)) == (
            "NO_COST_DATA",
            "No cost data yet: import a billing datasource.",
            [],
        )
        assert (pointer(sessions, created.id), files(settings, tenant_a.tenant_id)) == (None, [])


class TestAFailedSaveChangesNothing:
    @pytest.mark.parametrize(
        "failure",
        [
            pytest.param(ConservationError("parts of row 7 add up to 1.01, not 1.00"), id="engine-bug"),
            pytest.param(AllocationError("usage of rule 'calls' on 2026-01-02 is negative (-3)"), id="bad-usage"),
        ],
    )
    def test_update_keeps_the_previous_definition_and_results(
        self, tenant_a, costs, sessions, settings, monkeypatch, failure
    ):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute")))
        before = served(tenant_a, created.id)
        stored = files(settings, tenant_a.tenant_id)

        def fail(*_args, **_kwargs):
            raise failure

        monkeypatch.setattr(compute.Allocator, "allocate", fail)
        with pytest.raises(grpc.RpcError) as error:
            update(tenant_a, dimension(rule("s3", "Amazon Simple Storage Service", "Storage"), id=created.id))

        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        reason = (
            "the allocation did not add up to the cost it came from (a bug; see the server log)"
            if isinstance(failure, ConservationError)
            else str(failure)
        )
        assert error.value.details() == f"virtual dimension 'team' could not be computed, so it was not saved: {reason}"
        monkeypatch.undo()
        got = tenant_a.dimensions.GetVirtualDimension(pb.GetVirtualDimensionRequest(id=created.id))
        assert [r.name for r in got.rules] == ["ec2"]
        assert (
            served(tenant_a, created.id)
            == before
            == (
                "COMPUTED",
                {"Compute": "79.00", "Unallocated": "1092.00"},
                {"Compute": "79.00", "Unallocated": "1092.00"},
            )
        )
        assert files(settings, tenant_a.tenant_id) == stored  # the new file went with the rollback

    def test_create_saves_nothing(self, tenant_a, costs, settings, monkeypatch):
        def fail(*_args, **_kwargs):
            raise AllocationError("a rule reads column 'x_Odd', which the cost table lacks")

        monkeypatch.setattr(compute.Allocator, "allocate", fail)
        with pytest.raises(grpc.RpcError) as error:
            create(tenant_a, dimension(rule("ec2", EC2, "Compute")))

        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        listed = tenant_a.dimensions.ListVirtualDimensions(pb.ListVirtualDimensionsRequest())
        assert (list(listed.virtual_dimensions), files(settings, tenant_a.tenant_id)) == ([], [])


class TestARecomputeAfterNewDataThatFails:
    def test_records_error_and_keeps_serving_the_last_results(self, tenant_a, costs, sessions, settings, monkeypatch):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute")))
        kept = pointer(sessions, created.id)

        def fail(*_args, **_kwargs):
            raise AllocationError("usage of rule 'calls' on 2026-01-02 is negative (-3)")

        monkeypatch.setattr(compute.Allocator, "allocate", fail)
        with sessions.begin() as session:
            assert recompute_tenant(session, tenant_a.tenant_id, Engine.local(settings.data_dir)) == 1
        monkeypatch.undo()

        got = tenant_a.dimensions.GetVirtualDimension(pb.GetVirtualDimensionRequest(id=created.id))
        assert (got.status, got.status_message) == ("ERROR", "usage of rule 'calls' on 2026-01-02 is negative (-3)")
        values = {"Compute": "79.00", "Unallocated": "1092.00"}
        assert served(tenant_a, created.id) == ("ERROR", values, values)
        assert pointer(sessions, created.id) == kept


class TestResultFiles:
    def test_each_save_writes_a_new_file_and_removes_the_previous_one_after_commit(
        self, tenant_a, costs, sessions, settings
    ):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute")))
        first = pointer(sessions, created.id)
        assert files(settings, tenant_a.tenant_id) == [first]
        assert first is not None and first.startswith(f"{created.id}/") and len(first) == len(created.id) + 33

        update(tenant_a, dimension(rule("s3", "Amazon Simple Storage Service", "Storage"), id=created.id))

        second = pointer(sessions, created.id)
        assert second != first
        assert files(settings, tenant_a.tenant_id) == [second]
        with sessions.begin() as session:  # what cost queries read through
            base = compute.tenant_folder(tenant_a.tenant_id)
            current = results.current_results(session, tenant_a.tenant_id, created.id)
            elsewhere = results.current_results(session, "ten_other", created.id)
        assert (current, elsewhere) == (compute.ResultKeys(f"{base}/{second}"), None)
        values = {"Storage": "12.00", "Unallocated": "1159.00"}
        assert served(tenant_a, created.id) == ("COMPUTED", values, values)

        tenant_a.dimensions.DeleteVirtualDimension(pb.DeleteVirtualDimensionRequest(id=created.id))
        assert files(settings, tenant_a.tenant_id) == []

    def test_a_rolled_back_transaction_leaves_no_file_and_the_pointer_unchanged(
        self, tenant_a, costs, sessions, settings
    ):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute")))
        first = pointer(sessions, created.id)

        with pytest.raises(RuntimeError), sessions.begin() as session:
            row = session.get(Dimension, created.id)
            store = DataStore.local(settings.data_dir)
            folder = f"{compute.tenant_folder(tenant_a.tenant_id)}/{compute.new_result_folder(created.id)}"
            store.write_table(f"{folder}/part-00000.parquet", pa.table({"rule": ["ec2"]}))
            results.point_to(session, row, store, compute.Computed(folder, SUMMARY_SCHEMA.empty_table()))
            session.flush()
            assert len(files(settings, tenant_a.tenant_id)) == 2  # written, not served
            raise RuntimeError("the import failed after the recompute")

        assert (pointer(sessions, created.id), files(settings, tenant_a.tenant_id)) == (first, [first])

    def test_the_sweep_removes_old_files_no_row_points_at(self, tenant_a, costs, sessions, settings):
        created = create(tenant_a, dimension(rule("ec2", EC2, "Compute")))
        current = pointer(sessions, created.id)
        store = DataStore.local(settings.data_dir)
        base = compute.tenant_folder(tenant_a.tenant_id)
        crashed = f"{created.id}/{'a' * 32}/part-00000.parquet"  # a process died between writing and committing
        in_flight = f"{created.id}/{'b' * 32}/part-00000.parquet"  # a transaction still running
        legacy = f"{created.id}.parquet"  # written before migration 0006, since replaced
        gone = f"vd_{'c' * 32}/{'d' * 32}.parquet"  # of a dimension deleted meanwhile (before summaries)
        hour_ago = time.time() - results.GRACE_SECONDS - 60
        for name in (crashed, in_flight, legacy, gone):
            store.write_table(f"{base}/{name}", pa.table({"x": [1]}))
        for name in (crashed, legacy, gone, *(o.key[len(base) + 1 :] for o in store.list(f"{base}/{current}"))):
            os.utime(store.path(f"{base}/{name}"), (hour_ago, hour_ago))

        with sessions.begin() as session:
            assert results.sweep(session, store, tenant_a.tenant_id) == 3

        assert files(settings, tenant_a.tenant_id) == sorted([current, in_flight.rpartition("/")[0]])
        assert store.list(f"{base}/vd_{'c' * 32}") == []


def test_a_pointer_is_read_only_in_the_shapes_written(settings):
    tenant, dimension_id = "ten_1", "vd_1"
    base = compute.tenant_folder(tenant)
    assert compute.result_keys(tenant, dimension_id, None) is None
    assert compute.result_keys(tenant, dimension_id, "vd_1.parquet") == compute.ResultKeys(None, f"{base}/vd_1.parquet")
    unique = f"vd_1/{'0' * 32}"
    assert compute.result_keys(tenant, dimension_id, unique) == compute.ResultKeys(f"{base}/{unique}")
    older = f"vd_1/{'0' * 32}.parquet"
    assert compute.result_keys(tenant, dimension_id, older) == compute.ResultKeys(None, f"{base}/{older}")
    for bad in ("../vd_1.parquet", "vd_2.parquet", f"vd_2/{'0' * 32}", "vd_1/../../x.parquet", "/etc/x", "vd_1/x"):
        with pytest.raises(ValueError, match="are not one of dimension 'vd_1'"):
            compute.result_keys(tenant, dimension_id, bad)
    with pytest.raises(ValueError, match="unsafe tenant id"):
        compute.tenant_folder("../other")
    store = DataStore.local(settings.data_dir)  # removed since the pointer was read: nothing served
    assert compute.read_summary(store, compute.ResultKeys(f"{base}/{unique}")) is None


class TestRegularExpressionsAreRe2:
    @pytest.mark.parametrize(
        ("message", "field", "reason"),
        [
            pytest.param(
                dimension(rule("r", "(?=Amazon)A", "x", operator="MATCHES")),
                "rules[0].conditions[0].values[0]",
                "invalid perl operator: (?=",
                id="lookahead-in-a-condition",
            ),
            pytest.param(
                dimension(rule("r", "a{100000}", "x", operator="NOT_MATCHES")),
                "rules[0].conditions[0].values[0]",
                "invalid repetition size: {100000}",
                id="repetition-overflow",
            ),
            pytest.param(
                pb.VirtualDimension(
                    name="team",
                    rules=[
                        pb.DimensionRule(
                            name="r",
                            from_column=pb.ColumnValue(
                                column="ResourceId", mapping=pb.ValueMapping(strategy="REGEX", regex=r"(team)-\1")
                            ),
                        )
                    ],
                ),
                "rules[0].from_column.mapping.regex",
                r"invalid escape sequence: \1",
                id="backreference-in-a-mapping",
            ),
        ],
    )
    def test_what_re2_refuses_is_an_invalid_argument_on_its_path(self, tenant_a, message, field, reason):
        with pytest.raises(grpc.RpcError) as error:
            create(tenant_a, message)

        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        bad_request = error_details_pb2.BadRequest()
        rpc_status.from_call(error.value).details[0].Unpack(bad_request)
        [violation] = bad_request.field_violations
        assert violation.field == field
        assert f"is not a valid RE2 regular expression ({reason})" in violation.description
        [finding] = tenant_a.dimensions.ValidateVirtualDimension(
            pb.ValidateVirtualDimensionRequest(virtual_dimension=message)
        ).findings
        assert (finding.severity, finding.field, finding.summary) == (
            common_pb2.Finding.ERROR,
            field,
            "Invalid Regular Expression",
        )

    def test_over_rest_a_repetition_overflow_is_a_400_naming_the_field(self, tenant_a, costs, settings):
        from fastapi.testclient import TestClient

        from control_plane.rest.app import create_app
        from control_plane.services import build_services

        services = build_services(settings)
        body = {
            "start_date": "2026-01-01",
            "end_date": "2026-01-04",
            "metric": {"metrics_datasource_id": "mds_x", "metric_name": "calls", "dimension": "team"},
            "cost_filter": [{"column": "ResourceId", "operator": "MATCHES", "values": ["a{100000}"]}],
        }
        try:
            with TestClient(create_app(services)) as api:
                response = api.post(
                    "/v1/costs:preview-split", json=body, headers={"Authorization": f"Bearer {tenant_a.token}"}
                )
        finally:
            services.close()
        assert response.status_code == 400
        locations = [item["loc"] for item in response.json()["detail"]]
        assert ["cost_filter", 0, "values", 0] in locations


def test_a_catastrophic_regex_does_not_stall_another_tenants_calls(tenant_a, tenant_b, sessions, settings):
    """`(a+)+$` against 10,000 distinct resource ids of 31 to 55 characters ("aaa…ab<n>"): a backtracking engine
    needs about 2**30 steps per id; RE2 reads each once, in C++ without the GIL. Tenant B's calls made meanwhile
    answer in the time they take when the server is idle."""
    from devtools.sample_cur import cur_table

    rows = [
        {
            "line_item_product_code": "AmazonEC2",
            "product_product_name": EC2,
            "line_item_resource_id": f"{'a' * (30 + n % 25)}b{n}",
            "line_item_unblended_cost": 0.01,
            "usage_day": f"2026-01-{1 + n % 28:02d}",
        }
        for n in range(10_000)
    ]
    table = normalize(cur_table(rows), datasource_id="bds_many", billing_period="2026-01", partition_id=3)
    seed_month(sessions, settings.data_dir, tenant_a.tenant_id, "bds_many", "2026-01", table)
    heavy = dimension(
        pb.DimensionRule(
            name="backtracking",
            conditions=[pb.RuleCondition(column="ResourceId", operator="MATCHES", values=["(a+)+$"])],
            value="x",
        )
    )

    def list_b() -> float:
        started = time.perf_counter()
        tenant_b.dimensions.ListVirtualDimensions(pb.ListVirtualDimensionsRequest())
        return time.perf_counter() - started

    list_b()  # connect
    idle = sorted(list_b() for _ in range(20))[10]

    import threading

    outcome: dict[str, object] = {}

    def run_heavy() -> None:
        started = time.perf_counter()
        outcome["created"] = create(tenant_a, heavy)
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=run_heavy)
    thread.start()
    meanwhile = []
    while thread.is_alive():
        meanwhile.append(list_b())
    thread.join()

    created = outcome["created"]
    assert isinstance(created, pb.VirtualDimension)
    assert (created.status, [f.summary for f in created.findings]) == ("COMPUTED", ["Rule Matches No Cost"])
    assert outcome["seconds"] < 30  # bounded: linear in the text, not exponential
    assert meanwhile, "tenant B made no call while tenant A's dimension was computed"
    typical = sorted(meanwhile)[len(meanwhile) // 2]
    assert typical < 3 * idle + 0.05, (typical, idle, outcome["seconds"])
