"""Proving that a customer's role lets this tenant in, and only this tenant, and can read the files.

1. Obtain a Google ID token for the tenant's identity and call STS AssumeRoleWithWebIdentity with it.
   AccessDenied right after a role is created is usually IAM propagation: it is retried with bounded
   exponential backoff; other client errors fail at once.
2. Against an emulator (``aws_endpoint_url`` set), which hands out credentials for any token, read the
   role's trust policy (IAM GetRole) and evaluate it here; real STS enforces it itself.
3. With the role's credentials, list the Parquet files under the bucket and prefix (none yet is a
   warning), and read the footer of the newest one to check every metric's columns.

Problems come back as findings on the attribute to change, never as exceptions with tracebacks, and
never with a token or credential in the text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.orm import Session

from control_plane.identity import IdTokenUnavailable
from control_plane.metrics.reader import MetricSpec, columns_problem
from control_plane.settings import Settings
from control_plane.storage import AwsCredentials, S3ObjectStore
from control_plane.trust.policy import evaluate_trust_policy
from costory_schema.problems import Problem

log = logging.getLogger(__name__)


class AccessDenied(Exception):
    """The role could not be used; ``finding`` says why and what to change. ``transient`` when AWS
    could not be reached (worth retrying later), not when it said no."""

    def __init__(self, finding: Problem, transient: bool = False):
        super().__init__(finding.detail)
        self.finding = finding
        self.transient = transient


class IdTokens(Protocol):
    def id_token(self, session: Session, tenant_id: str) -> str: ...

    def subject_ids(self, session: Session, tenant_id: str) -> list[str]: ...


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


class RoleAccess:
    """Assumes tenants' roles with their Google identity and checks what the roles allow."""

    def __init__(self, settings: Settings, identity: IdTokens, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.identity = identity
        self._sleep = sleep

    @property
    def checks_trust_policy(self) -> bool:
        """Whether to read and evaluate the trust policy here, because STS won't (an emulator)."""
        enforced = self.settings.sts_enforces_trust
        return not enforced if enforced is not None else self.settings.aws_endpoint_url is not None

    def _client(self, service: str, credentials: AwsCredentials | None = None, **kwargs):
        if credentials is not None:
            kwargs.update(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        return boto3.client(
            service,
            region_name=self.settings.aws_region,
            endpoint_url=self.settings.aws_endpoint_url,
            **kwargs,
        )

    def _unreachable(self, service: str, purpose: str, error: BotoCoreError) -> str:
        """AWS could not be reached: say where the control plane tried, and the two settings that change it."""
        endpoint = self.settings.aws_endpoint_url
        where = f"at {endpoint} (COSTORY_AWS_ENDPOINT_URL)" if endpoint else "(COSTORY_AWS_ENDPOINT_URL is unset: AWS)"
        return (
            f"Could not reach AWS {service} {where} {purpose}: {type(error).__name__}. To use an emulator such as "
            "moto, set COSTORY_AWS_ENDPOINT_URL to its URL; to develop offline, COSTORY_TRUST_VALIDATION=skip saves "
            "datasources without checking their role and bucket."
        )

    def credentials(self, session: Session, tenant_id: str, role_arn: str) -> AwsCredentials:
        """Temporary credentials for ``role_arn``, obtained as the tenant's Google identity."""
        try:
            token = self.identity.id_token(session, tenant_id)
        except IdTokenUnavailable as error:
            raise AccessDenied(
                Problem(("role_arn",), "Google ID Token Unavailable", str(error)), transient=True
            ) from None
        sts = self._client(
            "sts",
            config=Config(
                signature_version=UNSIGNED, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15
            ),
        )
        attempts = max(1, self.settings.sts_retry_attempts)
        for attempt in range(1, attempts + 1):
            try:
                answer = sts.assume_role_with_web_identity(
                    RoleArn=role_arn,
                    RoleSessionName=f"costory-{tenant_id}"[:64],
                    WebIdentityToken=token,
                    DurationSeconds=3600,
                )
                break
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                retryable = (
                    code == "AccessDenied" or status >= 500 or code in ("Throttling", "ThrottlingException")
                )
                if not retryable or attempt == attempts:
                    raise AccessDenied(_sts_finding(role_arn, code, error), transient=status >= 500) from None
            except BotoCoreError as error:
                if attempt == attempts:
                    raise AccessDenied(
                        Problem(
                            ("role_arn",),
                            "AWS STS Unreachable",
                            self._unreachable("STS", f"to assume {role_arn}", error),
                        ),
                        transient=True,
                    ) from None
            delay = self.settings.sts_retry_base_seconds * 2 ** (attempt - 1)
            log.info(
                "AssumeRoleWithWebIdentity on %s denied (attempt %d); retrying in %.1fs",
                role_arn,
                attempt,
                delay,
            )
            self._sleep(delay)
        raw = answer["Credentials"]
        credentials = AwsCredentials(raw["AccessKeyId"], raw["SecretAccessKey"], raw.get("SessionToken"))
        if self.checks_trust_policy:
            self._check_trust_policy(session, tenant_id, role_arn, credentials)
        return credentials

    def _check_trust_policy(
        self, session: Session, tenant_id: str, role_arn: str, credentials: AwsCredentials
    ):
        try:
            role = self._client("iam", credentials).get_role(RoleName=role_name(role_arn))["Role"]
        except ClientError as error:
            raise AccessDenied(
                Problem(
                    ("role_arn",),
                    "Role Not Found",
                    f"Could not read role {role_arn}: {error.response.get('Error', {}).get('Message', '')}",
                )
            ) from None
        subjects = self.identity.subject_ids(session, tenant_id)
        verdicts = [evaluate_trust_policy(role["AssumeRolePolicyDocument"], sub) for sub in subjects]
        failing = [v for v in verdicts if not v.ok]
        if failing:
            raise AccessDenied(
                Problem(
                    ("role_arn",),
                    "Role Trust Policy Rejected",
                    f"{role_arn}: {failing[0].summary()}",
                )
            )

    def check(self, session: Session, tenant_id: str, data: Mapping[str, Any]) -> list[Problem]:
        """Every finding for a datasource definition (the MessageToDict view), errors first."""
        try:
            credentials = self.credentials(session, tenant_id, data["role_arn"])
        except AccessDenied as denied:
            return [denied.finding]
        bucket, prefix = data["bucket_name"], data.get("prefix") or ""
        store = S3ObjectStore(
            bucket,
            prefix,
            credentials=credentials,
            region=self.settings.aws_region,
            endpoint_url=self.settings.aws_endpoint_url,
        )
        location = f"s3://{bucket}/{prefix}"
        try:
            files = store.list_parquet()
        except BotoCoreError as error:
            detail = self._unreachable("S3", f"to list {location}", error)
            return [Problem(("bucket_name",), "AWS S3 Unreachable", detail)]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                detail = f"Bucket `{bucket}` does not exist (or is in another partition)."
            else:
                detail = (
                    f"The role can assume but cannot list {location} ({code}). Allow `s3:ListBucket` on the "
                    f"bucket and `s3:GetObject` on its objects in the role's policy."
                )
            return [Problem(("bucket_name",), "Bucket Not Readable", detail)]
        if not files:
            return [
                Problem.warning(
                    ("prefix",) if prefix else ("bucket_name",),
                    "No Parquet Files Yet",
                    f"No `.parquet` files under {location} yet; the daily import will pick them up once your "
                    "export job writes them.",
                )
            ]
        newest = files[-1]
        try:
            schema = store.read_schema(newest.key)
        except (ClientError, OSError) as error:
            return [
                Problem(
                    ("bucket_name",),
                    "Files Not Readable",
                    f"Could not read s3://{bucket}/{newest.key}: {type(error).__name__}. "
                    "Allow `s3:GetObject` on the bucket's objects, and check the file is Parquet.",
                )
            ]
        findings = []
        for index, definition in enumerate(data.get("metrics_definition", [])):
            spec = MetricSpec.from_mapping(definition)
            for column_field, problem in columns_problem(schema, spec):
                findings.append(
                    Problem(
                        ("metrics_definition", index, column_field),
                        "Column Not Usable",
                        f"{problem} (checked against s3://{bucket}/{newest.key}).",
                    )
                )
        return findings


def _sts_finding(role_arn: str, code: str, error: ClientError) -> Problem:
    message = error.response.get("Error", {}).get("Message", "")
    if code == "AccessDenied":
        detail = (
            f"AWS STS refused to let Costory's Google identity assume {role_arn} ({message}). The role's trust "
            "policy must allow `sts:AssumeRoleWithWebIdentity` for Principal "
            '{"Federated": "accounts.google.com"} with StringEquals on `accounts.google.com:sub` set to '
            "`data.costory_service_account.current.sub_ids`."
        )
        return Problem(("role_arn",), "Role Does Not Trust Costory", detail)
    return Problem(("role_arn",), "Cannot Assume Role", f"AWS STS: {code}: {message}")
