from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

import pytest

from control_plane.errors import AlreadyExists, InvalidArgument, NotFound, Unauthenticated
from control_plane.identity import set_google_key
from control_plane.models import Tenant, TenantGoogleKey
from control_plane.tenants.service import (
    TenantSummary,
    authenticate,
    create_tenant,
    list_tenants,
    revoke_token,
    rotate_token,
)
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


class TestListTenants:
    def test_lists_every_tenant_oldest_first_with_its_identity_and_never_a_token(self, sessions):
        with sessions.begin() as session:
            second, second_token = create_tenant(session, "Beta")
            first, first_token = create_tenant(session, "Acme")
            first.created_at = datetime(2026, 1, 1, tzinfo=UTC)
            second.created_at = datetime(2026, 2, 1, tzinfo=UTC)
            set_google_key(session, "Beta", google_key("beta", "555555555555555555555").to_json())
            revoke_token(session, "Beta")
            second.revoked_at = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
            first_id, second_id, first_sub = first.id, second.id, first.google_subject_id

        with sessions() as session:
            tenants = list_tenants(session)

        assert tenants == [
            TenantSummary(
                first_id,
                "Acme",
                datetime(2026, 1, 1, tzinfo=UTC),
                "costory-acme@costory-selfhosted.iam.gserviceaccount.com",
                first_sub,
                "EMBEDDED",
                None,
            ),
            TenantSummary(
                second_id,
                "Beta",
                datetime(2026, 2, 1, tzinfo=UTC),
                "beta@customer-project.iam.gserviceaccount.com",
                "555555555555555555555",
                "CONFIGURED",
                datetime(2026, 3, 4, 5, 6, tzinfo=UTC),
            ),
        ]
        assert first_token not in repr(tenants) and second_token not in repr(tenants)

    def test_no_tenants(self, sessions):
        with sessions() as session:
            assert list_tenants(session) == []


class TestRotateToken:
    def test_the_new_token_works_and_the_old_one_is_rejected(self, sessions):
        with sessions.begin() as session:
            tenant, old = create_tenant(session, "Acme")
            tenant_id = tenant.id
        with sessions.begin() as session:
            rotated, new = rotate_token(session, "Acme")
            assert rotated.id == tenant_id

        assert re.fullmatch(r"cst_[A-Za-z0-9_-]{43}", new) and new != old
        with sessions() as session:
            assert authenticate(session, new).id == tenant_id
            with pytest.raises(Unauthenticated, match="^invalid or missing API token$"):
                authenticate(session, old)

    def test_rotating_a_revoked_token_makes_the_tenant_usable_again(self, sessions):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            revoke_token(session, "Acme")
            tenant_id = tenant.id
        with sessions.begin() as session:
            _, new = rotate_token(session, "Acme")

        with sessions() as session:
            assert authenticate(session, new).id == tenant_id
            assert session.get(Tenant, tenant_id).revoked_at is None

    def test_unknown_tenant(self, sessions):
        with sessions.begin() as session, pytest.raises(NotFound) as caught:
            rotate_token(session, "Nobody")
        assert str(caught.value) == "no tenant named 'Nobody'; `costory-control-plane tenants list` shows them"


class TestRevokeToken:
    def test_a_revoked_token_is_refused_as_revoked(self, sessions):
        with sessions.begin() as session:
            _, token = create_tenant(session, "Acme")
            create_tenant(session, "Beta")
        with sessions.begin() as session:
            revoked = revoke_token(session, "Acme")
            revoked.revoked_at = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)

        with sessions() as session, pytest.raises(Unauthenticated) as caught:
            authenticate(session, token)
        assert str(caught.value) == (
            "this API token was revoked on 2026-03-04 05:06 UTC; ask the control plane's operator for a new one "
            "(`costory-control-plane tenants rotate-token`)"
        )
        assert token not in str(caught.value)

    def test_revoking_twice_keeps_the_first_time(self, sessions):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            revoke_token(session, "Acme").revoked_at = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
        with sessions.begin() as session:
            revoked_at = revoke_token(session, "Acme").revoked_at
            assert revoked_at is not None and revoked_at.replace(tzinfo=UTC) == datetime(2026, 3, 4, 5, 6, tzinfo=UTC)

    def test_other_tenants_are_not_affected(self, sessions):
        with sessions.begin() as session:
            create_tenant(session, "Acme")
            other, token = create_tenant(session, "Beta")
            revoke_token(session, "Acme")
            other_id = other.id
        with sessions() as session:
            assert authenticate(session, token).id == other_id

    def test_unknown_tenant(self, sessions):
        with sessions.begin() as session, pytest.raises(NotFound, match="^no tenant named 'Nobody'"):
            revoke_token(session, "Nobody")
