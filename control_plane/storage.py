"""The customer's bucket, seen through a role: list the Parquet objects under a prefix, open one for
streaming, and say what a storage failure means (retry, or what the customer must change).

Both listing and reading use boto3; a read is a series of ranged GETs pinned to the listed ETag, so the
Parquet reader fetches only the footer and the column chunks it streams, never the whole object, and never
a mix of two versions of it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from control_plane.imports.errors import (
    ImportFailed,
    ObjectChanged,
    ObjectReadError,
    TerminalImportError,
    TransientImportError,
    UnsafeKey,
)

PARQUET_SUFFIX = ".parquet"


@dataclass(frozen=True)
class ObjectInfo:
    """One object as listed."""

    key: str
    etag: str
    """Without the surrounding quotes S3 puts on it."""
    size: int
    last_modified: datetime
    """When S3 received the object (UTC): the later of two files for the same day wins."""


@dataclass(frozen=True)
class AwsCredentials:
    """Temporary credentials of the customer's role. Never logged: the secret parts stay out of repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class ObjectStore(Protocol):
    """What the importer needs from storage (``S3ObjectStore``, or a stand-in in tests)."""

    def list_parquet(self) -> list[ObjectInfo]: ...

    def open(self, key: str, etag: str | None = None) -> pa.NativeFile: ...

    def stat(self, key: str) -> ObjectInfo | None: ...


class S3ObjectStore:
    """Parquet objects under ``s3://bucket/prefix``.

    ``endpoint_url`` sends every call to an emulator (e.g. moto) instead of AWS; ``credentials`` None
    uses the default AWS credential chain."""

    def __init__(
        self,
        bucket: str,
        prefix: str | None,
        *,
        credentials: AwsCredentials | None,
        region: str,
        endpoint_url: str | None,
    ):
        self.bucket = bucket
        self.prefix = prefix or ""
        self.credentials = credentials
        self.region = region
        self.endpoint_url = endpoint_url
        self._bucket_region: str | None = None
        self._boto: Any = None

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def list_parquet(self) -> list[ObjectInfo]:
        """Every ``.parquet`` object (any case) under the prefix, oldest first: sorted by
        (LastModified, key). Raises botocore's ``ClientError`` / ``BotoCoreError`` as they come."""
        paginator = self._client().get_paginator("list_objects_v2")
        objects = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            headers = page.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            self._bucket_region = headers.get("x-amz-bucket-region") or self._bucket_region
            for item in page.get("Contents", ()):
                if not item["Key"].lower().endswith(PARQUET_SUFFIX):
                    continue
                objects.append(
                    ObjectInfo(
                        key=item["Key"],
                        etag=item.get("ETag", "").strip('"'),
                        size=int(item.get("Size", 0)),
                        last_modified=item["LastModified"].astimezone(UTC),
                    )
                )
        objects.sort(key=lambda o: (o.last_modified, o.key))
        return objects

    def open(self, key: str, etag: str | None = None) -> pa.NativeFile:
        """A seekable input over the object: each read is a ranged GET, as the Parquet reader asks for bytes.

        With ``etag`` (the one listed), every GET carries ``If-Match``: an object replaced while it is read
        raises ``ObjectChanged`` instead of mixing old and new bytes. The key is used literally (never
        normalised) and must be safe (``unsafe_key_reason``). Opening raises ``FileNotFoundError`` when the
        object is gone; a failed read later raises ``ObjectReadError``, so a network failure is never
        mistaken for a damaged file."""
        reason = unsafe_key_reason(key, self.prefix)
        if reason is not None:
            raise UnsafeKey(reason)
        location = f"s3://{self.bucket}/{key}"
        client = self._client()
        try:
            head = client.head_object(Bucket=self.bucket, Key=key, **({"IfMatch": _quoted(etag)} if etag else {}))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(location) from None
            if code in ("412", "PreconditionFailed"):
                raise ObjectChanged(location, error) from None
            raise ObjectReadError(location, error) from error
        except BotoCoreError as error:
            raise ObjectReadError(location, error) from error
        ranged = _RangedObject(client, self.bucket, key, int(head.get("ContentLength", 0)), etag, location)
        return pa.PythonFile(io.BufferedReader(ranged, buffer_size=READ_BUFFER_BYTES), mode="r")

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's current version (None when it is gone): after ``ObjectChanged``, what to read again."""
        try:
            head = self._client().head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code") or "") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(
            key=key,
            etag=str(head.get("ETag", "")).strip('"'),
            size=int(head.get("ContentLength", 0)),
            last_modified=head["LastModified"].astimezone(UTC),
        )

    def read_schema(self, key: str) -> pa.Schema:
        """The Arrow schema from the object's Parquet footer (only the footer is read).

        Raises ``OSError`` when the object cannot be read or is not Parquet."""
        with self.open(key) as source:
            try:
                return pq.ParquetFile(source).schema_arrow
            except pa.ArrowException as error:
                if isinstance(error, OSError):
                    raise
                raise OSError(f"s3://{self.bucket}/{key} is not a readable Parquet file: {error}") from None

    def _client(self) -> Any:
        if self._boto is None:
            kwargs = {}
            if self.credentials is not None:
                kwargs = dict(
                    aws_access_key_id=self.credentials.access_key_id,
                    aws_secret_access_key=self.credentials.secret_access_key,
                    aws_session_token=self.credentials.session_token,
                )
            config = Config(
                retries={"mode": "standard", "max_attempts": 3},
                s3={"addressing_style": "path"} if self.endpoint_url else None,
            )
            self._boto = boto3.client(
                "s3", region_name=self._bucket_region or self.region, endpoint_url=self.endpoint_url, config=config,
                **kwargs,
            )
        return self._boto


READ_BUFFER_BYTES = 1 << 20
"""Bytes fetched per ranged GET at least: the Parquet reader's small reads are served from this buffer."""


def unsafe_key_reason(key: str, prefix: str = "") -> str | None:
    """Why ``key`` must not be read, or None. Keys are used literally; one that an HTTP client or server could
    normalise (``.``/``..`` segments, empty segments from ``//``) or that is outside the prefix is refused, so
    an import never reads an object other than the one listed under the datasource's prefix."""
    if not key.startswith(prefix):
        return f"the key is outside the datasource's prefix `{prefix}`"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        return "the key contains control characters; rename the object"
    segments = key.split("/")
    if any(segment in (".", "..") for segment in segments):
        return "the key has a `.` or `..` segment, which could name another object; rename the object"
    if any(segment == "" for segment in segments[:-1]):
        return "the key has an empty segment (`//`), which could name another object; rename the object"
    return None


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


class _RangedObject(io.RawIOBase):
    """The bytes of one object, fetched by ranged GETs pinned to an ETag (``If-Match``)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int, etag: str | None, location: str):
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._etag, self._location, self._position = etag, location, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        end = self._position + wanted - 1
        conditions = {"IfMatch": _quoted(self._etag)} if self._etag else {}
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end}", **conditions
            )
            data = response["Body"].read()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code") or "")
            if code in ("412", "PreconditionFailed"):
                raise ObjectChanged(self._location, error) from None
            raise ObjectReadError(self._location, error) from error
        except (BotoCoreError, OSError) as error:
            raise ObjectReadError(self._location, error) from error
        count = len(data)
        buffer[:count] = data
        self._position += count
        return count


# -- what a storage failure means ------------------------------------------------------------------

_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ServiceUnavailable",
    "ExpiredToken",
    "RequestExpired",
}
# pyarrow's S3 errors read "AWS Error ACCESS_DENIED during GetObject operation: ..." or
# "AWS Error UNKNOWN (HTTP status 503) during HeadObject operation: ...".
_ARROW_CODES = {
    "ACCESS_DENIED": "AccessDenied",
    "NO_SUCH_BUCKET": "NoSuchBucket",
    "NO_SUCH_KEY": "NoSuchKey",
    "RESOURCE_NOT_FOUND": "NoSuchKey",
    "INVALID_ACCESS_KEY_ID": "InvalidAccessKeyId",
    "SIGNATURE_DOES_NOT_MATCH": "SignatureDoesNotMatch",
    "EXPIRED_TOKEN": "ExpiredToken",
    "REQUEST_EXPIRED": "RequestExpired",
    "SLOW_DOWN": "SlowDown",
    "THROTTLING": "Throttling",
    "SERVICE_UNAVAILABLE": "ServiceUnavailable",
    "INTERNAL_FAILURE": "InternalError",
    "REQUEST_TIMEOUT": "RequestTimeout",
    "NETWORK_CONNECTION": "NetworkConnection",
}
_ARROW_ERROR = re.compile(r"AWS Error (?P<name>[A-Z_]+)(?: \(HTTP status (?P<status>\d+)\))?")


def listing_failure(error: BaseException, bucket: str, prefix: str | None) -> ImportFailed:
    """What a failed ListObjectsV2 on ``bucket``/``prefix`` means and what to do about it."""
    code, detail, transient = _classify(error)
    location = f"s3://{bucket}/{prefix or ''}"
    if transient:
        return TransientImportError(
            f"Listing {location} failed temporarily ({code}: {detail}); the import is retried automatically."
        )
    if code == "NoSuchBucket":
        return TerminalImportError(f"Bucket `{bucket}` does not exist. Create it, or correct `bucket_name`.")
    if code == "AccessDenied":
        return TerminalImportError(
            f"The role may not list {location} (AccessDenied). Allow `s3:ListBucket` on "
            f"`arn:aws:s3:::{bucket}` in the role's permissions policy."
        )
    return TerminalImportError(
        f"Listing {location} failed ({code}: {detail}). {_credentials_hint(code)}".rstrip()
    )


def reading_failure(error: BaseException, bucket: str, key: str) -> ImportFailed:
    """What a failed read of ``s3://bucket/key`` means and what to do about it."""
    code, detail, transient = _classify(error)
    location = f"s3://{bucket}/{key}"
    if transient:
        return TransientImportError(
            f"Reading {location} failed temporarily ({code}: {detail}); the import is retried automatically."
        )
    if code == "AccessDenied":
        return TerminalImportError(
            f"The role may not read {location} (AccessDenied). Allow `s3:GetObject` on "
            f"`arn:aws:s3:::{bucket}/*` in the role's permissions policy (and `kms:Decrypt` when the objects "
            "are encrypted with a KMS key)."
        )
    return TerminalImportError(
        f"Reading {location} failed ({code}: {detail}). {_credentials_hint(code)}".rstrip()
    )


def _credentials_hint(code: str) -> str:
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"):
        return "The role's credentials were refused: check the role still exists and trusts Costory."
    return ""


def _classify(error: BaseException) -> tuple[str, str, bool]:
    """(error code, detail, transient) of a boto3 or pyarrow storage failure."""
    if isinstance(error, ObjectReadError):
        error = error.cause
    if isinstance(error, ClientError):
        body = error.response.get("Error", {})
        code = str(body.get("Code") or "Unknown")
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        transient = code in _TRANSIENT_CODES or status >= 500 or status == 429
        return code, str(body.get("Message") or error), transient
    if isinstance(error, BotoConnectionError):
        return type(error).__name__, str(error), True
    if isinstance(error, BotoCoreError):
        return type(error).__name__, str(error), False
    if isinstance(error, OSError):
        text = str(error)
        match = _ARROW_ERROR.search(text)
        if match is None:
            # An I/O failure without an AWS answer (connection reset, timeout): worth retrying.
            return type(error).__name__, text, True
        status = int(match["status"] or 0)
        code = _ARROW_CODES.get(match["name"]) or {403: "AccessDenied", 404: "NoSuchKey"}.get(
            status, match["name"]
        )
        transient = code in _TRANSIENT_CODES or code == "NetworkConnection" or status >= 500 or status == 429
        return code, text, transient
    return type(error).__name__, str(error), False
