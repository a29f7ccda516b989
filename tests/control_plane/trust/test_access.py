"""RoleAccess: assuming a tenant's role with its Google ID token, on both paths.

- STS enforces the trust policy (real AWS): a loopback stand-in for STS that speaks its Query API wire
  format (form-encoded request, XML answer) replays AccessDenied / success as scripted.
- An emulator (moto) hands out credentials for any token: the control plane reads the policy with IAM
  GetRole and evaluates it itself.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import boto3
import google.auth.jwt
import pytest

from control_plane.identity import GoogleIdentity
from control_plane.settings import Settings
from control_plane.storage import AwsCredentials
from control_plane.tenants.service import create_tenant
from control_plane.trust.access import AccessDenied, RoleAccess
from tests.control_plane.imports.support import parquet_bytes

ROLE = "arn:aws:iam::123456789012:role/costory-usage"
SUCCESS = """<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>example-secret</SecretAccessKey>
      <SessionToken>example-session</SessionToken>
      <Expiration>2030-01-01T00:00:00Z</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/costory-usage/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
    <Provider>accounts.google.com</Provider>
    <Audience>sts.amazonaws.com</Audience>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""


def error(status: int, code: str, message: str) -> tuple[int, str]:
    return status, (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
    )


DENIED = error(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")


class FakeSts:
    """Answers AssumeRoleWithWebIdentity from a script and records each request's form."""

    def __init__(self, script: list[tuple[int, str]]):
        self.script = list(script)
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                owner.requests.append({k: v[0] for k, v in parse_qs(body).items()})
                status, text = owner.script.pop(0) if len(owner.script) > 1 else owner.script[0]
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tenant(sessions):
    with sessions.begin() as session:
        created, _ = create_tenant(session, "acme")
        return created.id, created.google_subject_id


def access_with(settings_overrides: dict, sleeps: list[float]) -> RoleAccess:
    settings = Settings(**settings_overrides)
    return RoleAccess(settings, GoogleIdentity(settings), sleep=sleeps.append)


class TestStsEnforcesTrust:
    def run(self, sessions, tenant_id, script, attempts=4):
        sts = FakeSts(script)
        sleeps: list[float] = []
        access = access_with(
            {
                "aws_endpoint_url": sts.url,
                "sts_enforces_trust": True,
                "sts_retry_attempts": attempts,
                "sts_retry_base_seconds": 0.5,
            },
            sleeps,
        )
        try:
            with sessions() as session:
                try:
                    return access.credentials(session, tenant_id, ROLE), sts.requests, sleeps
                except AccessDenied as denied:
                    return denied, sts.requests, sleeps
        finally:
            access.identity.close()
            sts.stop()

    def test_access_denied_while_the_role_propagates_is_retried_with_backoff(self, sessions, tenant):
        tenant_id, sub = tenant
        result, requests, sleeps = self.run(sessions, tenant_id, [DENIED, DENIED, (200, SUCCESS)])
        assert result == AwsCredentials("ASIAEXAMPLE", "example-secret", "example-session")
        assert sleeps == [0.5, 1.0]
        assert [r["Action"] for r in requests] == ["AssumeRoleWithWebIdentity"] * 3
        assert {r["RoleArn"] for r in requests} == {ROLE}
        claims = google.auth.jwt.decode(requests[0]["WebIdentityToken"], verify=False)
        assert (claims["iss"], claims["sub"], claims["aud"]) == (
            "https://accounts.google.com",
            sub,
            "sts.amazonaws.com",
        )

    def test_access_denied_after_every_attempt_fails_on_role_arn(self, sessions, tenant):
        result, requests, sleeps = self.run(sessions, tenant[0], [DENIED], attempts=3)
        assert isinstance(result, AccessDenied)
        assert (result.finding.path, result.finding.summary, result.transient) == (
            ("role_arn",),
            "Role Does Not Trust Costory",
            False,
        )
        assert result.finding.detail.startswith(
            f"AWS STS refused to let Costory's Google identity assume {ROLE} "
            "(Not authorized to perform sts:AssumeRoleWithWebIdentity)."
        )
        assert (len(requests), sleeps) == (3, [0.5, 1.0])

    def test_other_client_errors_fail_at_once(self, sessions, tenant):
        rejected = error(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
        result, requests, sleeps = self.run(sessions, tenant[0], [rejected])
        assert (result.finding.summary, result.finding.detail) == (
            "Cannot Assume Role",
            "AWS STS: InvalidIdentityToken: Couldn't retrieve verification key from your identity provider",
        )
        assert (len(requests), sleeps) == (1, [])


class TestEmulatorTrustPolicy:
    """moto hands out credentials for any token; the policy is checked here."""

    def aws(self, moto, service):
        return boto3.client(
            service, endpoint_url=moto.endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def role(self, moto, sub: str) -> str:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": "accounts.google.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {"accounts.google.com:sub": sub}},
                }
            ],
        }
        return self.aws(moto, "iam").create_role(RoleName="costory-usage", AssumeRolePolicyDocument=json.dumps(policy))[
            "Role"
        ]["Arn"]

    def check(self, sessions, moto, tenant_id, data):
        access = access_with({"aws_endpoint_url": moto.endpoint}, [])
        try:
            with sessions() as session:
                return access.check(session, tenant_id, data)
        finally:
            access.identity.close()

    def datasource(self, role_arn, **metric):
        definition = {
            "metric_name": "api_calls",
            "gap_filling": "ZERO",
            "aggregation": "SUM",
            "value_column": "api_call_count",
            "date_column": "date",
            "dimensions": ["team"],
            **metric,
        }
        return {
            "name": "n",
            "bucket_name": "usage",
            "prefix": "daily/",
            "role_arn": role_arn,
            "metrics_definition": [definition],
        }

    def test_a_role_pinned_to_another_sub_is_rejected_on_role_arn(self, sessions, moto, tenant):
        role_arn = self.role(moto, "100000000000000000001")
        (finding,) = self.check(sessions, moto, tenant[0], self.datasource(role_arn))
        assert (finding.severity, finding.path, finding.summary) == (
            "ERROR",
            ("role_arn",),
            "Role Trust Policy Rejected",
        )
        assert (
            f'pins accounts.google.com:sub to "100000000000000000001", not this tenant\'s "{tenant[1]}"'
            in finding.detail
        )

    def test_empty_prefix_is_a_warning(self, sessions, moto, tenant):
        role_arn = self.role(moto, tenant[1])
        self.aws(moto, "s3").create_bucket(Bucket="usage")
        assert [
            (f.severity, f.path, f.summary) for f in self.check(sessions, moto, tenant[0], self.datasource(role_arn))
        ] == [("WARNING", ("prefix",), "No Parquet Files Yet")]

    def test_columns_are_checked_against_the_newest_file(self, sessions, moto, tenant):
        role_arn = self.role(moto, tenant[1])
        s3 = self.aws(moto, "s3")
        s3.create_bucket(Bucket="usage")
        s3.put_object(
            Bucket="usage",
            Key="daily/2026-01-01.parquet",
            Body=parquet_bytes({"date": ["2026-01-01"], "team": ["a"], "calls": [1]}),
        )
        findings = self.check(sessions, moto, tenant[0], self.datasource(role_arn))
        assert [(f.severity, f.path, f.summary) for f in findings] == [
            ("ERROR", ("metrics_definition", 0, "value_column"), "Column Not Usable")
        ]
        assert findings[0].detail.startswith(
            "Column `api_call_count` (`value_column`) is not in the file; its columns are `date`, `team`, `calls`."
        )

    def test_a_good_role_and_file_pass(self, sessions, moto, tenant):
        role_arn = self.role(moto, tenant[1])
        s3 = self.aws(moto, "s3")
        s3.create_bucket(Bucket="usage")
        s3.put_object(
            Bucket="usage",
            Key="daily/2026-01-01.parquet",
            Body=parquet_bytes({"date": ["2026-01-01"], "team": ["a"], "api_call_count": [1]}),
        )
        assert self.check(sessions, moto, tenant[0], self.datasource(role_arn)) == []


def test_unreachable_sts_is_a_transient_failure_naming_the_settings_to_change(sessions, tenant):
    from devtools.local import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    sleeps: list[float] = []
    access = access_with(
        {
            "aws_endpoint_url": endpoint,
            "sts_enforces_trust": True,
            "sts_retry_attempts": 2,
            "sts_retry_base_seconds": 0.5,
        },
        sleeps,
    )
    try:
        with sessions() as session, pytest.raises(AccessDenied) as raised:
            access.credentials(session, tenant[0], ROLE)
    finally:
        access.identity.close()
    assert (raised.value.transient, raised.value.finding.summary, sleeps) == (True, "AWS STS Unreachable", [0.5])
    assert raised.value.finding.detail == (
        f"Could not reach AWS STS at {endpoint} (COSTORY_AWS_ENDPOINT_URL) to assume {ROLE}: EndpointConnectionError. "
        "To use an emulator such as moto, set COSTORY_AWS_ENDPOINT_URL to its URL; to develop offline, "
        "COSTORY_TRUST_VALIDATION=skip saves datasources without checking their role and bucket."
    )


def test_unreachable_aws_without_an_endpoint_says_the_setting_is_unset():
    from botocore.exceptions import EndpointConnectionError

    access = access_with({}, [])
    access.identity.close()

    detail = access._unreachable("STS", f"to assume {ROLE}", EndpointConnectionError(endpoint_url="https://sts"))

    assert detail.startswith(
        f"Could not reach AWS STS (COSTORY_AWS_ENDPOINT_URL is unset: AWS) to assume {ROLE}: EndpointConnectionError. "
        "To use an emulator such as moto, set COSTORY_AWS_ENDPOINT_URL"
    )


def test_unreachable_s3_is_an_error_on_bucket_name_naming_the_settings(sessions, tenant, monkeypatch):
    from devtools.local import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    access = access_with({"aws_endpoint_url": endpoint}, [])
    monkeypatch.setattr(access, "credentials", lambda *_: AwsCredentials("ASIAEXAMPLE", "secret", "session"))
    data = {"name": "n", "bucket_name": "usage", "prefix": "daily/", "role_arn": ROLE, "metrics_definition": []}
    try:
        with sessions() as session:
            findings = access.check(session, tenant[0], data)
    finally:
        access.identity.close()

    assert [(f.severity, f.path, f.summary) for f in findings] == [("ERROR", ("bucket_name",), "AWS S3 Unreachable")]
    assert findings[0].detail == (
        f"Could not reach AWS S3 at {endpoint} (COSTORY_AWS_ENDPOINT_URL) to list s3://usage/daily/: "
        "EndpointConnectionError. To use an emulator such as moto, set COSTORY_AWS_ENDPOINT_URL to its URL; to "
        "develop offline, COSTORY_TRUST_VALIDATION=skip saves datasources without checking their role and bucket."
    )
