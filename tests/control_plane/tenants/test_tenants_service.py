from __future__ import annotations

import hashlib
import json
import re

import pytest

from control_plane.errors import AlreadyExists, InvalidArgument, Unauthenticated
from control_plane.models import TenantGoogleKey
from control_plane.tenants.service import authenticate, create_tenant
from tests.control_plane.identity.support import google_key, write_key

ACME_INC_ACCOUNT = "costory-acme-inc@costory-selfhosted.iam.gserviceaccount.com"


class TestCreateTenant:
    def test_stores_only_the_token_hash(self, sessions):
        with sessions.begin() as session:
            tenant, token = create_tenant(session, "Acme Inc.")

            assert re.fullmatch(r"cst_[A-Za-z0-9_-]{43}", token)
            assert re.fullmatch(r"ten_[0-9a-f]{32}", tenant.id)
            assert tenant.token_hash == hashlib.sha256(token.encode()).hexdigest()
            assert tenant.service_account_email == ACME_INC_ACCOUNT

    def test_gives_the_tenant_an_embedded_google_identity(self, sessions):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme Inc.")
            key = session.get(TenantGoogleKey, tenant.id)

            assert key.source == "EMBEDDED"
            assert re.fullmatch(r"[1-9][0-9]{20}", tenant.google_subject_id)
            assert json.loads(key.key_json)["client_id"] == tenant.google_subject_id
            assert json.loads(key.key_json)["client_email"] == ACME_INC_ACCOUNT

    def test_takes_the_identity_from_the_key_pool(self, sessions, settings, tmp_path):
        write_key(tmp_path / "pool", "a.json", google_key("acme", "888888888888888888888"))

        with sessions.begin() as session:
            tenant, _ = create_tenant(
                session, "Acme Inc.", settings.model_copy(update={"google_key_pool_dir": tmp_path / "pool"})
            )

            assert tenant.service_account_email == "acme@customer-project.iam.gserviceaccount.com"
            assert tenant.google_subject_id == "888888888888888888888"
            assert session.get(TenantGoogleKey, tenant.id).source == "POOL"

    def test_rejects_a_duplicate_name(self, sessions):
        with sessions.begin() as session:
            create_tenant(session, "Acme")
            with pytest.raises(AlreadyExists, match="^a tenant named 'Acme' already exists$"):
                create_tenant(session, "Acme")

    def test_rejects_an_empty_name(self, sessions):
        with sessions.begin() as session, pytest.raises(InvalidArgument) as caught:
            create_tenant(session, "  ")
        assert [v.field for v in caught.value.violations] == ["name"]

    def test_similar_names_get_distinct_service_accounts(self, sessions):
        with sessions.begin() as session:
            first, _ = create_tenant(session, "Acme Inc")
            second, _ = create_tenant(session, "acme-inc")

            assert first.service_account_email == ACME_INC_ACCOUNT
            assert re.fullmatch(
                r"costory-acme-inc-[0-9a-f]{4}@costory-selfhosted\.iam\.gserviceaccount\.com",
                second.service_account_email,
            )

    def test_long_names_fit_a_google_account_id(self, sessions):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "A very long tenant name that goes on and on")

            account_id = tenant.service_account_email.split("@")[0]
            assert account_id == "costory-a-very-long-tenant-nam"
            assert len(account_id) <= 30


class TestAuthenticate:
    def test_finds_the_tenant_by_token(self, sessions):
        with sessions.begin() as session:
            tenant, token = create_tenant(session, "Acme")

            assert authenticate(session, token) is tenant

    @pytest.mark.parametrize("token", [None, "", "cst_wrong"], ids=["none", "empty", "wrong"])
    def test_rejects_a_missing_or_wrong_token(self, sessions, token):
        with sessions.begin() as session:
            create_tenant(session, "Acme")
            with pytest.raises(Unauthenticated, match="^invalid or missing API token$"):
                authenticate(session, token)
