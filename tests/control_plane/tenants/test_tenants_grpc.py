from __future__ import annotations

from control_plane.identity import set_google_key
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
