"""Authentication and error mapping shared by every RPC (control_plane/rpc.py)."""

from __future__ import annotations

import grpc
import pytest

from control_plane.metrics import service
from costory_proto.costory.v1 import metrics_datasource_pb2, tenant_pb2

LIST_REQUEST = metrics_datasource_pb2.ListMetricsDatasourcesRequest()
CALLS = [
    pytest.param(lambda metrics, tenants: tenants.WhoAmI(tenant_pb2.WhoAmIRequest()), id="WhoAmI"),
    pytest.param(
        lambda metrics, tenants: metrics.ListMetricsDatasources(LIST_REQUEST), id="ListMetricsDatasources"
    ),
]


class TestAuthentication:
    @pytest.mark.parametrize("call", CALLS)
    @pytest.mark.parametrize(
        "metadata",
        [
            pytest.param((), id="no-token"),
            pytest.param((("authorization", "Bearer cst_not-a-real-token"),), id="wrong-token"),
            pytest.param((("authorization", "cst_not-a-real-token"),), id="no-bearer-scheme"),
            pytest.param((("authorization", "Bearer "),), id="empty-bearer"),
        ],
    )
    def test_rejects_missing_or_wrong_token(self, connect, tenant_a, call, metadata):
        with pytest.raises(grpc.RpcError) as caught:
            call(*connect(metadata))

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert caught.value.details() == "invalid or missing API token"
        assert "cst_" not in repr(caught.value.trailing_metadata())

    def test_another_tenants_token_prefix_is_not_enough(self, connect, tenant_a):
        metrics, tenants = connect((("authorization", f"Bearer {tenant_a.token[:-1]}"),))

        with pytest.raises(grpc.RpcError) as caught:
            tenants.WhoAmI(tenant_pb2.WhoAmIRequest())

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert tenant_a.token[:-1] not in caught.value.details()

    def test_bearer_scheme_is_case_insensitive(self, connect, tenant_a):
        metrics, tenants = connect((("authorization", f"bearer {tenant_a.token}"),))

        assert tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_id == tenant_a.tenant_id


class TestUnexpectedErrors:
    def test_become_internal_without_details(self, tenant_a, monkeypatch, caplog):
        def explode(*args, **kwargs):
            raise RuntimeError("secret detail cst_leak")

        monkeypatch.setattr(service, "list_datasources", explode)

        with pytest.raises(grpc.RpcError) as caught:
            tenant_a.metrics.ListMetricsDatasources(LIST_REQUEST)

        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert caught.value.details() == "internal error"
        assert "unexpected error in MetricsDatasourceServicer.ListMetricsDatasources" in caplog.text
