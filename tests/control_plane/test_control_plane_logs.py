"""Secrets never reach a log (control_plane/logs.py): the redaction rules one by one, then a real flow at DEBUG —
a tenant, an ID token from the embedded identity through google-auth, STS AssumeRoleWithWebIdentity, IAM GetRole
and an S3 listing and read against moto — with every record captured and grepped for the actual secret values."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from fastapi.testclient import TestClient

from control_plane.identity import GoogleIdentity
from control_plane.logs import REDACTED, RedactSecrets, redact, redacting
from control_plane.models import TenantGoogleKey
from control_plane.rest.app import create_app
from control_plane.services import build_services
from control_plane.storage import S3ObjectStore
from control_plane.tenants.service import create_tenant
from control_plane.trust.access import RoleAccess
from tests.control_plane.imports.support import parquet_bytes

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMDAwIn0.c2lnbmF0dXJl"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION = "FwoGZXIvYXdzEJr//////////wEaDM0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"Authorization: Bearer cst_{'a' * 43}", "Authorization: [redacted]", id="authorization-header"),
        pytest.param(f"token cst_{'b' * 43} rejected", "token [redacted] rejected", id="api-token"),
        pytest.param(f"using Bearer {JWT}", "using Bearer [redacted]", id="bearer"),
        pytest.param(f"assertion={JWT}&grant_type=jwt-bearer", "assertion=[redacted]&grant_type=jwt-bearer", id="form"),
        pytest.param(f"id token {JWT}", "id token [redacted]", id="jwt"),
        pytest.param(
            f"<SecretAccessKey>{SECRET_KEY}</SecretAccessKey><SessionToken>{SESSION}</SessionToken>",
            "<SecretAccessKey>[redacted]</SecretAccessKey><SessionToken>[redacted]</SessionToken>",
            id="sts-xml",
        ),
        pytest.param(
            f"{{'SecretAccessKey': '{SECRET_KEY}', 'AccessKeyId': 'ASIAEXAMPLE'}}",
            "{'SecretAccessKey': '[redacted]', 'AccessKeyId': 'ASIAEXAMPLE'}",
            id="dict-repr",
        ),
        pytest.param(
            f"{{'X-Amz-Security-Token': b'{SESSION}', 'Authorization': b'AWS4-HMAC-SHA256 Credential=ASIA/x'}}",
            "{'X-Amz-Security-Token': b'[redacted]', 'Authorization': b'[redacted]'}",
            id="botocore-headers",
        ),
        pytest.param(
            f"host:s3\nx-amz-security-token:{SESSION}\n", "host:s3\nx-amz-security-token:[redacted]\n", id="canonical"
        ),
        pytest.param(f"token {SESSION}!", "token [redacted]!", id="session-token-shape"),
        pytest.param(f"aws_secret_access_key = {SECRET_KEY}", "aws_secret_access_key = [redacted]", id="ini"),
        pytest.param(
            "GET /c/f.parquet?sv=2022-11-02&sig=Ab%2Bc%3D&se=2030 200",
            "GET /c/f.parquet?sv=2022-11-02&sig=[redacted]&se=2030 200",
            id="sas-sig",
        ),
        pytest.param(
            '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEv\\n-----END PRIVATE KEY-----\\n", "client_id": "1"}',
            '{"private_key": "[redacted]", "client_id": "1"}',
            id="key-file-json",
        ),
        pytest.param("-----BEGIN RSA PRIVATE KEY-----\nMIIEv", "[redacted]", id="pem-cut-short"),
        pytest.param("postgresql://costory:hunter2@db:5432/c", "postgresql://costory:[redacted]@db:5432/c", id="url"),
        pytest.param("gRPC API on 127.0.0.1:50051", "gRPC API on 127.0.0.1:50051", id="no-secret"),
        pytest.param(
            "token endpoint on http://127.0.0.1:5/token", "token endpoint on http://127.0.0.1:5/token", id="word"
        ),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("unit", ["eyJ", "eyJa.b ", "'token': '", "http://u:", "cst_", "Bearer ", "<SessionToken>"])
def test_redact_stays_linear_on_hostile_text(unit):
    """A logged header or body repeating a prefix never makes redaction quadratic (it runs on every record)."""
    hostile = unit * (300_000 // len(unit))
    plain = "a" * len(hostile)

    started = time.perf_counter()
    redact(plain)
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    redact(hostile)
    elapsed = time.perf_counter() - started

    assert elapsed < 100 * baseline + 1.0


def record(msg: object, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.DEBUG, __file__, 1, msg, args or None, exc_info)


class TestRedactSecrets:
    def test_arguments_are_redacted_one_by_one_and_kept_for_formatters_that_read_them(self):
        # uvicorn's access formatter unpacks record.args: they must stay a tuple of the same length.
        entry = record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/f?sig=abc&se=1", "1.1", 200)

        RedactSecrets().filter(entry)

        assert entry.args == ("127.0.0.1:5", "GET", "/f?sig=[redacted]&se=1", "1.1", 200)
        assert entry.getMessage() == '127.0.0.1:5 - "GET /f?sig=[redacted]&se=1 HTTP/1.1" 200'

    def test_a_secret_split_between_format_and_argument_is_redacted_in_the_message(self):
        entry = record("Authorization: Bearer %s", "opaque-value")

        RedactSecrets().filter(entry)

        assert (entry.getMessage(), entry.args) == ("Authorization: [redacted]", ())

    def test_non_string_arguments_and_messages(self):
        entry = record({"SessionToken": SESSION})
        other = record("credentials %s", {"SecretAccessKey": SECRET_KEY, "Expiration": 3600})

        RedactSecrets().filter(entry)
        RedactSecrets().filter(other)

        assert entry.getMessage() == "{'SessionToken': '[redacted]'}"
        assert other.getMessage() == "credentials {'SecretAccessKey': '[redacted]', 'Expiration': 3600}"

    def test_a_broken_format_string_is_kept_redacted_instead_of_printing_raw_arguments(self):
        entry = record("no placeholder", f"Bearer {JWT}")

        RedactSecrets().filter(entry)

        assert (entry.getMessage(), entry.args) == ("no placeholder ('Bearer [redacted]',)", ())

    def test_tracebacks_are_redacted(self):
        try:
            raise ValueError(f"bad token {JWT}")
        except ValueError:
            entry = record("failed", exc_info=sys.exc_info())

        RedactSecrets().filter(entry)

        assert entry.exc_text is not None and entry.exc_text.endswith("ValueError: bad token [redacted]")
        assert JWT not in logging.Formatter().format(entry)


def test_redacting_covers_every_logger_and_handler_and_is_undone_after():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.logs.isolated")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        with redacting(), redacting():  # nested: still one redaction
            logger.debug("key %s", f"Bearer {JWT}")
        logger.debug("after %s", "cst_" + "c" * 20)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == ["key Bearer [redacted]", "after cst_" + "c" * 20]


# -- the real flow -------------------------------------------------------------------------------------------


class Captured(logging.Handler):
    """Every record, formatted with its logger name and any traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.names.add(record.name)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_LIBRARIES = ("botocore", "boto3", "urllib3", "google", "s3transfer", "httpx", "httpcore", "control_plane")


@contextmanager
def everything_at_debug(redacted: bool) -> Iterator[Captured]:
    captured = Captured()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *_LIBRARIES)}
    root.addHandler(captured)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        if redacted:
            with redacting():
                yield captured
        else:
            yield captured
    finally:
        root.removeHandler(captured)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _flow(sessions, moto, settings) -> list[str]:
    """Run the flow; returns the secrets it handled: API token, private key lines, ID token, the role's
    secret access key and session token."""
    with sessions.begin() as session:
        tenant, api_token = create_tenant(session, "Acme")
        tenant_id, sub = tenant.id, tenant.google_subject_id
        key = json.loads(session.get(TenantGoogleKey, tenant_id).key_json)
    admin = {"endpoint_url": moto.endpoint, "region_name": "us-east-1"} | {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
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
    role_arn = boto3.client("iam", **admin).create_role(
        RoleName="costory-usage", AssumeRolePolicyDocument=json.dumps(policy)
    )["Role"]["Arn"]
    s3 = boto3.client("s3", **admin)
    s3.create_bucket(Bucket="usage")
    s3.put_object(
        Bucket="usage", Key="daily/2026-01-01.parquet", Body=parquet_bytes({"date": ["2026-01-01"], "n": [1]})
    )

    aws = settings.model_copy(update={"aws_endpoint_url": moto.endpoint})
    identity = GoogleIdentity(aws)
    access = RoleAccess(aws, identity, sleep=lambda _: None)
    try:
        with sessions() as session:
            id_token = identity.id_token(session, tenant_id)
            credentials = access.credentials(session, tenant_id, role_arn)
        store = S3ObjectStore(
            "usage", "daily/", credentials=credentials, region="us-east-1", endpoint_url=moto.endpoint
        )
        (listed,) = store.list_parquet()
        assert store.read_schema(listed.key).names == ["date", "n"]
        body = boto3.client(
            "s3",
            endpoint_url=moto.endpoint,
            region_name="us-east-1",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        ).get_object(Bucket="usage", Key=listed.key)["Body"]
        assert body.read()[:4] == b"PAR1"
    finally:
        identity.close()

    services = build_services(settings)
    try:
        with TestClient(create_app(services)) as api:
            assert (
                api.get("/v1/metrics-datasources", headers={"Authorization": f"Bearer {api_token}"}).status_code == 200
            )
    finally:
        services.close()

    # And the careless log lines a future change might add.
    careless = logging.getLogger("control_plane.careless")
    careless.debug("tenant token %s", api_token)
    careless.debug("key file %s", json.dumps(key))
    careless.debug("credentials %r", credentials)
    careless.debug("STS said %s", {"SecretAccessKey": credentials.secret_access_key})
    careless.debug("calling with Authorization: Bearer %s", id_token)
    assert credentials.session_token is not None
    key_lines = [line for line in key["private_key"].splitlines() if line and not line.startswith("-----")]
    return [api_token, id_token, credentials.secret_access_key, credentials.session_token, *key_lines]


def test_without_redaction_the_flow_does_log_secrets(sessions, moto, settings):
    """The threat is real: botocore logs the ID token, the role's secret key and its session token by itself
    (and the careless lines log the rest)."""
    with everything_at_debug(redacted=False) as captured:
        secrets = _flow(sessions, moto, settings)
    api_token, id_token, secret_key, session_token = secrets[:4]
    libraries = "\n".join(line for line in captured.lines if line.split()[1].startswith("botocore"))
    assert [secret in libraries for secret in (id_token, secret_key, session_token)] == [True, True, True]
    assert all(secret in captured.text for secret in secrets)


def test_no_secret_reaches_the_logs_at_debug(sessions, moto, settings):
    with everything_at_debug(redacted=True) as captured:
        secrets = _flow(sessions, moto, settings)

    # The flow did log the wire at DEBUG: botocore's requests and answers, urllib3's connections.
    assert {"botocore.endpoint", "botocore.parsers", "urllib3.connectionpool"} <= captured.names
    assert REDACTED in captured.text
    leaked = [secret[:12] + "…" for secret in secrets if secret in captured.text]
    assert leaked == []
