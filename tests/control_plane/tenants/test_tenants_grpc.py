from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient

from control_plane.identity import set_google_key
from control_plane.rest.app import create_app
from control_plane.services import build_services
from control_plane.tenants.service import revoke_token, rotate_token
from costory_proto.costory.v1 import tenant_pb2
from tests.control_plane.identity.support import google_key


class TestWhoAmI:
    def test_names_the_calling_tenant(self, tenant_a, tenant_b):
        assert tenant_a.tenants.WhoAmI(tenant_pb2.WhoAmIRequest()) == tenant_pb2.WhoAmIResponse(
            tenant_id=tenant_a.tenant_id, tenant_name="Tenant A"
        )
        assert tenant_b.tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_name == "Tenant B"


class TestGetServiceAccount:
    def test_returns_the_tenants_account_and_subject_id(self, tenant_a):
        account = tenant_a.tenants.GetServiceAccount(tenant_pb2.GetServiceAccountRequest())

        assert account.service_account == "costory-tenant-a@costory-selfhosted.iam.gserviceaccount.com"
        assert len(account.sub_ids) == 1
        assert account.sub_ids[0].isdigit() and len(account.sub_ids[0]) == 21

    def test_tenants_have_different_subject_ids(self, tenant_a, tenant_b):
        a = tenant_a.tenants.GetServiceAccount(tenant_pb2.GetServiceAccountRequest())
        b = tenant_b.tenants.GetServiceAccount(tenant_pb2.GetServiceAccountRequest())

        assert a.sub_ids != b.sub_ids
        assert b.service_account == "costory-tenant-b@costory-selfhosted.iam.gserviceaccount.com"

    def test_reflects_a_configured_google_key(self, tenant_a, sessions):
        key = google_key("tenant-a-prod", "777777777777777777777")
        with sessions.begin() as session:
            set_google_key(session, "Tenant A", key.to_json())

        account = tenant_a.tenants.GetServiceAccount(tenant_pb2.GetServiceAccountRequest())

        assert account.service_account == "tenant-a-prod@customer-project.iam.gserviceaccount.com"
        assert list(account.sub_ids) == ["777777777777777777777"]


class TestRevokedToken:
    """Revocation takes effect on the next call, over gRPC and REST alike, and says so; rotation undoes it."""

    def test_grpc_calls_are_refused_as_revoked_until_the_token_is_rotated(self, tenant_a, tenant_b, sessions, connect):
        with sessions.begin() as session:
            revoke_token(session, "Tenant A")

        with pytest.raises(grpc.RpcError) as caught:
            tenant_a.tenants.WhoAmI(tenant_pb2.WhoAmIRequest())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert caught.value.details().startswith("this API token was revoked on ")
        assert tenant_b.tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_name == "Tenant B"

        with sessions.begin() as session:
            _, token = rotate_token(session, "Tenant A")
        _, tenants = connect((("authorization", f"Bearer {token}"),))
        assert tenants.WhoAmI(tenant_pb2.WhoAmIRequest()).tenant_name == "Tenant A"
        with pytest.raises(grpc.RpcError) as old:
            tenant_a.tenants.WhoAmI(tenant_pb2.WhoAmIRequest())
        assert (old.value.code(), old.value.details()) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid or missing API token",
        )

    def test_rest_calls_get_401_saying_the_token_was_revoked(self, tenant_a, sessions, settings):
        with sessions.begin() as session:
            revoke_token(session, "Tenant A")
        services = build_services(settings)
        try:
            with TestClient(create_app(services)) as api:
                response = api.get("/v1/metrics-datasources", headers={"Authorization": f"Bearer {tenant_a.token}"})
        finally:
            services.close()

        assert response.status_code == 401
        assert response.json()["detail"].startswith("this API token was revoked on ")
        assert tenant_a.token not in response.text
