"""Tenants' identities (embedded, pool, configured) and ID tokens through google-auth's real code path."""

from __future__ import annotations

import json
import logging
import re

import pytest
from google.auth import exceptions, jwt
from google.oauth2 import service_account

from control_plane.errors import AlreadyExists, InvalidArgument, NotFound
from control_plane.identity import (
    GoogleIdentity,
    IdTokenUnavailable,
    PoolExhausted,
    ServiceAccount,
    ServiceAccountKey,
    get_service_account,
    set_google_key,
)
from control_plane.identity.keys import EMBEDDED_TOKEN_URI
from control_plane.identity.token_endpoint import issuer_certs
from control_plane.models import Tenant, TenantGoogleKey
from control_plane.tenants.service import create_tenant
from tests.control_plane.identity.support import google_key, secret_lines, trusted, write_key

ACME = "costory-acme@costory-selfhosted.iam.gserviceaccount.com"
GLOBEX = "costory-globex@costory-selfhosted.iam.gserviceaccount.com"


def stored_key(session, tenant_id: str) -> tuple[str, dict]:
    row = session.get(TenantGoogleKey, tenant_id)
    return row.source, json.loads(row.key_json)


def id_claims(token: str, audience: str = "sts.amazonaws.com") -> dict:
    claims = jwt.decode(token, certs=issuer_certs(), audience=audience)
    assert claims["exp"] - claims["iat"] == 3600
    return {k: v for k, v in claims.items() if k not in ("iat", "exp")}


class TestAssignIdentityEmbedded:
    def test_generates_a_google_shaped_key(self, sessions):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            source, info = stored_key(session, tenant.id)

            assert source == "EMBEDDED"
            assert re.fullmatch(r"[1-9][0-9]{20}", tenant.google_subject_id)
            assert tenant.service_account_email == ACME
            assert {k: v for k, v in info.items() if k not in ("private_key_id", "private_key")} == {
                "type": "service_account",
                "project_id": "costory-selfhosted",
                "client_email": ACME,
                "client_id": tenant.google_subject_id,
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": EMBEDDED_TOKEN_URI,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                "costory-acme%40costory-selfhosted.iam.gserviceaccount.com",
                "universe_domain": "googleapis.com",
            }
            assert re.fullmatch(r"[0-9a-f]{40}", info["private_key_id"])
            assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
            assert get_service_account(session, tenant) == ServiceAccount(ACME, (tenant.google_subject_id,))

    def test_tenants_get_distinct_keys_and_subjects(self, sessions):
        with sessions.begin() as session:
            acme, _ = create_tenant(session, "Acme")
            globex, _ = create_tenant(session, "Globex")

            assert acme.google_subject_id != globex.google_subject_id
            assert (
                stored_key(session, acme.id)[1]["private_key"]
                != stored_key(session, globex.id)[1]["private_key"]
            )


class TestIdTokenEmbedded:
    def test_obtains_a_verifiable_token_from_the_loopback_endpoint(self, sessions, identity):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            token = identity.id_token(session, tenant.id)
            sub = tenant.google_subject_id

        assert identity.endpoint is not None and identity.endpoint.token_uri.startswith("http://127.0.0.1:")
        assert id_claims(token) == {
            "iss": "https://accounts.google.com",
            "aud": "sts.amazonaws.com",
            "azp": sub,
            "sub": sub,
            "email": ACME,
            "email_verified": True,
        }

    def test_takes_another_audience(self, sessions, identity):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")

            token = identity.id_token(session, tenant.id, audience="https://example.com")

        assert id_claims(token, "https://example.com")["aud"] == "https://example.com"

    def test_two_tenants_get_different_tokens(self, sessions, identity):
        with sessions.begin() as session:
            acme, _ = create_tenant(session, "Acme")
            globex, _ = create_tenant(session, "Globex")

            acme_token = identity.id_token(session, acme.id)
            globex_token = identity.id_token(session, globex.id)

            assert acme_token != globex_token
            assert id_claims(acme_token)["sub"] == acme.google_subject_id
            assert id_claims(globex_token)["sub"] == globex.google_subject_id
            assert id_claims(globex_token)["email"] == GLOBEX

    def test_reuses_the_token_until_five_minutes_before_expiry(self, sessions, settings, monkeypatch):
        refreshes = []
        original = service_account.IDTokenCredentials.refresh

        def counting_refresh(credentials, request):
            refreshes.append(credentials.service_account_email)
            original(credentials, request)

        monkeypatch.setattr(service_account.IDTokenCredentials, "refresh", counting_refresh)
        now = [0.0]
        identity = GoogleIdentity(settings, clock=lambda: now[0])
        try:
            with sessions.begin() as session:
                tenant, _ = create_tenant(session, "Acme")
                first = identity.id_token(session, tenant.id)
                now[0] = jwt.decode(first, verify=False)["exp"] - 301

                assert identity.id_token(session, tenant.id) == first
                assert len(refreshes) == 1

                now[0] += 2
                identity.id_token(session, tenant.id)
                assert len(refreshes) == 2
                identity.id_token(session, tenant.id, audience="https://example.com")
                assert len(refreshes) == 3
        finally:
            identity.close()

    def test_close_stops_the_endpoint(self, sessions, settings):
        identity = GoogleIdentity(settings)
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            identity.id_token(session, tenant.id)
        endpoint = identity.endpoint

        identity.close()

        assert identity.endpoint is None and not endpoint.running

    def test_subject_ids_are_the_keys_client_id(self, sessions, identity):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")

            assert identity.subject_ids(session, tenant.id) == [tenant.google_subject_id]


class TestIdTokenFailures:
    def test_refused_refresh_is_a_domain_error_without_secrets(
        self, sessions, settings, token_endpoint, caplog
    ):
        caplog.set_level(logging.DEBUG)
        endpoint, _ = token_endpoint  # knows no key at all
        identity = GoogleIdentity(settings.model_copy(update={"google_token_uri": endpoint.token_uri}))
        try:
            with sessions.begin() as session:
                tenant, _ = create_tenant(session, "Acme")
                key = ServiceAccountKey(stored_key(session, tenant.id)[1])
                with pytest.raises(IdTokenUnavailable) as caught:
                    identity.id_token(session, tenant.id)
        finally:
            identity.close()

        assert str(caught.value) == (
            f"could not obtain a Google ID token for service account {ACME} "
            "(invalid_grant: Invalid grant: account not found); the key was generated by the control plane; "
            "check its logs and COSTORY_GOOGLE_TOKEN_URI"
        )
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        for line in secret_lines(key):
            assert line not in caplog.text
            assert line not in str(caught.value)

    def test_an_echoed_assertion_is_redacted(self, sessions, identity, monkeypatch):
        echoed = []

        def echoing_refresh(credentials, request):
            echoed.append(credentials._make_authorization_grant_assertion().decode())
            raise exceptions.RefreshError(f"invalid_grant: bad assertion {echoed[0]}\nmore")

        monkeypatch.setattr(service_account.IDTokenCredentials, "refresh", echoing_refresh)
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            with pytest.raises(IdTokenUnavailable) as caught:
                identity.id_token(session, tenant.id)

        assert "(invalid_grant: bad assertion <redacted>)" in str(caught.value)
        assert echoed[0] not in str(caught.value)

    def test_unreachable_endpoint(self, sessions, settings, token_endpoint):
        endpoint, _ = token_endpoint
        uri = endpoint.token_uri
        endpoint.stop()
        identity = GoogleIdentity(settings.model_copy(update={"google_token_uri": uri}))
        try:
            with sessions.begin() as session:
                tenant, _ = create_tenant(session, "Acme")
                with pytest.raises(
                    IdTokenUnavailable, match=f"the token endpoint {uri} could not be reached"
                ):
                    identity.id_token(session, tenant.id)
        finally:
            identity.close()

    def test_tenant_without_a_key(self, sessions, identity):
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            session.delete(session.get(TenantGoogleKey, tenant.id))
            session.flush()

            with pytest.raises(IdTokenUnavailable, match="has no Google key; set one with"):
                identity.id_token(session, tenant.id)
            assert identity.subject_ids(session, tenant.id) == [tenant.google_subject_id]


class TestAssignIdentityFromPool:
    def test_assigns_unused_keys_then_runs_out(self, sessions, settings, tmp_path):
        pool = tmp_path / "pool"
        first = google_key("tenant-one", "111111111111111111111")
        second = google_key("tenant-two", "222222222222222222222")
        write_key(pool, "a.json", first)
        write_key(pool, "b.json", second)
        (pool / "notes.txt").write_text("not a key")
        pooled = settings.model_copy(update={"google_key_pool_dir": pool})

        with sessions.begin() as session:
            one, _ = create_tenant(session, "One", pooled)
            two, _ = create_tenant(session, "Two", pooled)

            assert (one.service_account_email, one.google_subject_id) == (
                "tenant-one@customer-project.iam.gserviceaccount.com",
                "111111111111111111111",
            )
            assert (two.service_account_email, two.google_subject_id) == (
                "tenant-two@customer-project.iam.gserviceaccount.com",
                "222222222222222222222",
            )
            assert stored_key(session, one.id) == ("POOL", first.info)
            assert stored_key(session, two.id) == ("POOL", second.info)

        with sessions.begin() as session, pytest.raises(PoolExhausted) as caught:
            create_tenant(session, "Three", pooled)
        assert str(caught.value) == (
            f"the Google key pool {pool} has no unused key (2 key files, all assigned to tenants); "
            "add a service-account key file for each new tenant"
        )
        with sessions.begin() as session:
            assert session.query(Tenant).count() == 2

    def test_skips_invalid_files_without_logging_their_contents(self, sessions, settings, tmp_path, caplog):
        pool = tmp_path / "pool"
        broken = google_key("broken", "333333333333333333333")
        write_key(pool, "a-broken.json", broken)
        (pool / "a-broken.json").write_text(json.dumps({**broken.info, "type": "authorized_user"}))
        write_key(pool, "b-good.json", google_key("good", "444444444444444444444"))

        with sessions.begin() as session:
            tenant, _ = create_tenant(
                session, "One", settings.model_copy(update={"google_key_pool_dir": pool})
            )
            assert tenant.google_subject_id == "444444444444444444444"

        assert "skipping a-broken.json in the Google key pool: key_file:" in caplog.text
        for line in secret_lines(broken):
            assert line not in caplog.text

    def test_obtains_tokens_from_the_configured_token_uri(self, sessions, settings, tmp_path, token_endpoint):
        endpoint, known = token_endpoint
        key = google_key("tenant-one", "111111111111111111111")
        known[key.client_email] = trusted(key)
        write_key(tmp_path / "pool", "a.json", key)
        configured = settings.model_copy(
            update={"google_key_pool_dir": tmp_path / "pool", "google_token_uri": endpoint.token_uri}
        )
        identity = GoogleIdentity(configured)
        try:
            with sessions.begin() as session:
                tenant, _ = create_tenant(session, "One", configured)
                token = identity.id_token(session, tenant.id)
        finally:
            identity.close()

        assert id_claims(token)["sub"] == "111111111111111111111"
        assert identity.endpoint is None  # nothing embedded was started


class TestSetGoogleKey:
    def test_replaces_the_identity(self, sessions, settings, token_endpoint):
        key = google_key("acme-prod", "555555555555555555555")
        with sessions.begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            tenant_id = tenant.id

            assert set_google_key(session, "Acme", key.to_json()) is tenant
            assert (tenant.service_account_email, tenant.google_subject_id) == (
                "acme-prod@customer-project.iam.gserviceaccount.com",
                "555555555555555555555",
            )
            assert stored_key(session, tenant.id) == ("CONFIGURED", key.info)
            assert get_service_account(session, tenant) == ServiceAccount(
                "acme-prod@customer-project.iam.gserviceaccount.com", ("555555555555555555555",)
            )

        endpoint, known = token_endpoint
        known[key.client_email] = trusted(key)
        identity = GoogleIdentity(settings.model_copy(update={"google_token_uri": endpoint.token_uri}))
        try:
            with sessions.begin() as session:
                token = identity.id_token(session, tenant_id)
        finally:
            identity.close()
        assert id_claims(token)["email"] == "acme-prod@customer-project.iam.gserviceaccount.com"

    def test_a_replaced_key_is_not_served_from_the_cache(self, sessions, settings, token_endpoint):
        endpoint, known = token_endpoint
        configured = google_key("acme-prod", "555555555555555555555")
        known[configured.client_email] = trusted(configured)
        identity = GoogleIdentity(settings.model_copy(update={"google_token_uri": endpoint.token_uri}))
        try:
            with sessions.begin() as session:
                tenant, _ = create_tenant(session, "Acme")
                embedded = ServiceAccountKey(stored_key(session, tenant.id)[1])
                known[embedded.client_email] = trusted(embedded)
                before = identity.id_token(session, tenant.id)

                set_google_key(session, "Acme", configured.to_json())
                after = identity.id_token(session, tenant.id)
        finally:
            identity.close()

        assert id_claims(before)["sub"] == embedded.client_id
        assert id_claims(after)["sub"] == "555555555555555555555"

    def test_unknown_tenant(self, sessions):
        with sessions.begin() as session, pytest.raises(NotFound, match="^no tenant named 'Nobody'$"):
            set_google_key(session, "Nobody", google_key("x", "1").to_json())

    def test_key_of_another_tenant(self, sessions):
        key = google_key("shared", "666666666666666666666")
        with sessions.begin() as session:
            create_tenant(session, "Acme")
            create_tenant(session, "Globex")
            set_google_key(session, "Acme", key.to_json())

            with pytest.raises(AlreadyExists, match="is already another tenant's identity"):
                set_google_key(session, "Globex", key.to_json())

    @pytest.mark.parametrize(
        ("change", "detail"),
        [
            pytest.param(
                lambda info: "{not json",
                "The key file is not JSON; use the key file Google created for the service account.",
                id="not-json",
            ),
            pytest.param(
                lambda info: {**info, "type": "authorized_user"},
                'The key file must be a service account key (`"type": "service_account"`).',
                id="wrong-type",
            ),
            pytest.param(
                lambda info: {k: v for k, v in info.items() if k not in ("client_email", "private_key")},
                "The key file has no client_email, private_key.",
                id="missing-fields",
            ),
            pytest.param(
                lambda info: {**info, "client_id": "abc"},
                "`client_id` must be the service account's numeric id (at most 21 digits).",
                id="non-numeric-client-id",
            ),
            pytest.param(
                lambda info: {**info, "private_key": info["private_key"][:200]},
                "`private_key` is not an unencrypted PEM RSA private key.",
                id="truncated-private-key",
            ),
        ],
    )
    def test_rejects_invalid_key_files(self, sessions, change, detail):
        key = google_key("acme-prod", "555555555555555555555")
        changed = change(dict(key.info))
        text = changed if isinstance(changed, str) else json.dumps(changed)
        with sessions.begin() as session:
            create_tenant(session, "Acme")
            with pytest.raises(InvalidArgument) as caught:
                set_google_key(session, "Acme", text)

        assert [(v.field, v.detail) for v in caught.value.violations] == [("key_file", detail)]
        for line in secret_lines(key):
            assert line not in str(caught.value)
