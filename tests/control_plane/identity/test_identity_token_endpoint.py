"""The loopback token endpoint, called over HTTP as google-auth (and `requests`) call Google's."""

from __future__ import annotations

import base64
import datetime
import logging
import time

import google.auth.transport.requests
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from google.auth import crypt, exceptions, jwt
from google.oauth2 import service_account

from control_plane.identity import generate_key
from control_plane.identity.token_endpoint import GOOGLE_TOKEN_URI, JWT_BEARER_GRANT, issuer_certs
from tests.control_plane.identity.support import secret_lines, trusted

EMAIL = "costory-acme@costory-selfhosted.iam.gserviceaccount.com"
SUB = "123456789012345678901"
BIGQUERY_READONLY = "https://www.googleapis.com/auth/bigquery.readonly"
SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)


@pytest.fixture
def key():
    return generate_key(EMAIL, SUB)


@pytest.fixture
def endpoint(token_endpoint, key):
    endpoint, known = token_endpoint
    known[EMAIL] = trusted(key)
    return endpoint


def assertion(key, **claims) -> str:
    now = int(time.time())
    payload = {
        "iss": EMAIL,
        "aud": GOOGLE_TOKEN_URI,
        "target_audience": "sts.amazonaws.com",
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    signer = crypt.RSASigner.from_service_account_info(key.info)
    return jwt.encode(signer, {k: v for k, v in payload.items() if v is not None}).decode()


def post(endpoint, **form) -> requests.Response:
    return requests.post(endpoint.token_uri, data=form, timeout=10)


class TestGrant:
    def test_issues_an_id_token_for_a_known_key(self, endpoint, key):
        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(key))

        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
        assert set(answer.json()) == {"id_token"}
        claims = jwt.decode(answer.json()["id_token"], certs=issuer_certs(), audience="sts.amazonaws.com")
        assert {k: v for k, v in claims.items() if k not in ("iat", "exp")} == {
            "iss": "https://accounts.google.com",
            "aud": "sts.amazonaws.com",
            "azp": SUB,
            "sub": SUB,
            "email": EMAIL,
            "email_verified": True,
        }
        assert claims["exp"] - claims["iat"] == 3600

    def test_issues_an_access_token_for_a_scope(self, endpoint, key):
        answer = post(
            endpoint,
            grant_type=JWT_BEARER_GRANT,
            assertion=assertion(key, target_audience=None, scope=BIGQUERY_READONLY),
        )

        assert answer.status_code == 200
        body = answer.json()
        assert {name: body[name] for name in ("token_type", "expires_in")} == {
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        assert set(body) == {"access_token", "token_type", "expires_in"}
        claims = jwt.decode(body["access_token"], certs=issuer_certs())
        assert {k: v for k, v in claims.items() if k not in ("iat", "exp")} == {
            "iss": "https://accounts.google.com",
            "azp": SUB,
            "sub": SUB,
            "email": EMAIL,
            "scope": BIGQUERY_READONLY,
        }
        assert claims["exp"] - claims["iat"] == 3600

    def test_target_audience_takes_precedence_over_scope(self, endpoint, key):
        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(key, scope=BIGQUERY_READONLY))

        assert set(answer.json()) == {"id_token"}

    def test_google_auth_service_account_credentials_get_an_access_token(self, endpoint, key):
        credentials = service_account.Credentials.from_service_account_info(
            key.info, scopes=[BIGQUERY_READONLY]
        ).with_token_uri(endpoint.token_uri)

        credentials.refresh(google.auth.transport.requests.Request())

        assert credentials.valid
        claims = jwt.decode(credentials.token, certs=issuer_certs())
        assert (claims["email"], claims["scope"]) == (EMAIL, BIGQUERY_READONLY)
        assert (
            3590
            <= (credentials.expiry - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
            <= 3600
        )

    def test_accepts_its_own_uri_as_the_assertion_audience(self, endpoint, key):
        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(key, aud=endpoint.token_uri))

        assert answer.status_code == 200

    def test_serves_the_issuer_key_as_jwks(self, endpoint, key):
        id_token = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(key)).json()["id_token"]

        (jwk,) = requests.get(f"{endpoint.url}/oauth2/v3/certs", timeout=10).json()["keys"]
        numbers = RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"]))
        pem = numbers.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
        assert jwt.decode_header(id_token)["kid"] == jwk["kid"]
        assert jwt.decode(id_token, certs={jwk["kid"]: pem}, audience="sts.amazonaws.com")["sub"] == SUB


class TestRejections:
    @pytest.mark.parametrize(
        ("form", "error", "description"),
        [
            pytest.param(
                {"grant_type": "client_credentials", "assertion": "x"},
                "unsupported_grant_type",
                "Invalid grant_type: client_credentials",
                id="wrong-grant-type",
            ),
            pytest.param({}, "unsupported_grant_type", "Invalid grant_type: ", id="no-grant-type"),
            pytest.param(
                {"grant_type": JWT_BEARER_GRANT},
                "invalid_request",
                "Missing required parameter: assertion",
                id="no-assertion",
            ),
            pytest.param(
                {"grant_type": JWT_BEARER_GRANT, "assertion": "not.a.jwt"},
                "invalid_grant",
                "Invalid JWT: the assertion is not a well-formed JWT.",
                id="malformed",
            ),
        ],
    )
    def test_bad_requests(self, endpoint, form, error, description):
        answer = post(endpoint, **form)

        assert answer.status_code == 400
        assert answer.json() == {"error": error, "error_description": description}

    def test_assertion_signed_by_an_unknown_key(self, endpoint, key):
        impostor = generate_key(EMAIL, SUB)  # same account, another key (and key id)

        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(impostor))

        assert (answer.status_code, answer.json()) == (
            400,
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
        )

    def test_assertion_signed_by_another_key_under_the_known_key_id(self, endpoint, key):
        impostor = generate_key(EMAIL, SUB)
        impostor.info["private_key_id"] = key.private_key_id

        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(impostor))

        assert answer.json() == {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}

    def test_unknown_account(self, endpoint):
        stranger = generate_key("someone@elsewhere.iam.gserviceaccount.com", SUB)

        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(stranger, iss=stranger.client_email))

        assert answer.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid grant: account not found",
        }

    @pytest.mark.parametrize(
        "offsets",
        [
            pytest.param((-7200, -3600), id="expired"),
            pytest.param((600, 4200), id="issued-in-the-future"),
            pytest.param((0, 7200), id="too-long-lived"),
        ],
    )
    def test_assertion_outside_its_timeframe(self, endpoint, key, offsets):
        now = int(time.time())

        answer = post(
            endpoint,
            grant_type=JWT_BEARER_GRANT,
            assertion=assertion(key, iat=now + offsets[0], exp=now + offsets[1]),
        )

        assert (answer.status_code, answer.json()) == (
            400,
            {"error": "invalid_grant", "error_description": SHORT_LIVED},
        )

    def test_wrong_assertion_audience(self, endpoint, key):
        answer = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(key, aud="https://example.com/token"))

        assert answer.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid JWT: Failed audience check.",
        }

    @pytest.mark.parametrize("scope", [pytest.param(None, id="no-scope"), pytest.param(" ", id="blank-scope")])
    def test_assertion_with_neither_target_audience_nor_scope(self, endpoint, key, scope):
        answer = post(
            endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(key, target_audience=None, scope=scope)
        )

        assert (answer.status_code, answer.json()) == (
            400,
            {"error": "invalid_scope", "error_description": "Invalid OAuth scope or ID token audience provided."},
        )

    def test_google_auth_raises_refresh_error(self, endpoint):
        impostor = generate_key(EMAIL, SUB)
        credentials = service_account.IDTokenCredentials.from_service_account_info(
            impostor.info, target_audience="sts.amazonaws.com"
        ).with_token_uri(endpoint.token_uri)

        with pytest.raises(exceptions.RefreshError) as caught:
            credentials.refresh(google.auth.transport.requests.Request())

        assert caught.value.args == (
            "invalid_grant: Invalid JWT Signature.",
            {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
        )
        assert not caught.value.retryable

    def test_unknown_path(self, endpoint):
        assert requests.post(f"{endpoint.url}/other", data={}, timeout=10).status_code == 404
        assert requests.get(f"{endpoint.url}/token", timeout=10).status_code == 404


class TestLifecycle:
    def test_stop_frees_the_port(self, token_endpoint):
        endpoint, _ = token_endpoint
        url = endpoint.token_uri

        endpoint.stop()

        assert not endpoint.running
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data={}, timeout=2)

    def test_logs_nothing_secret(self, endpoint, key, caplog):
        caplog.set_level(logging.DEBUG)
        signed = assertion(key)

        id_token = post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=signed).json()["id_token"]
        post(endpoint, grant_type=JWT_BEARER_GRANT, assertion=assertion(generate_key(EMAIL, SUB)))

        for secret in [signed, id_token, *secret_lines(key)]:
            assert secret not in caplog.text


def _b64_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
