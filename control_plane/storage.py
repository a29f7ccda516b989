"""The customer's bucket, seen through a role: list the Parquet objects under a prefix, open one for
streaming, and say what a storage failure means (retry, or what the customer must change).

Listing uses boto3; reading uses pyarrow's own S3 filesystem, so the Parquet reader fetches only the
footer and the column chunks it streams, never the whole object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import boto3
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from control_plane.imports.errors import (
    ImportFailed,
    ObjectReadError,
    TerminalImportError,
    TransientImportError,
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

    def open(self, key: str) -> pa.NativeFile: ...


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
        self._filesystem: pafs.S3FileSystem | None = None

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

    def open(self, key: str) -> pa.NativeFile:
        """A seekable input over the object: reads go out as ranged GETs, as the reader asks for bytes.

        Opening raises pyarrow's ``OSError`` (``FileNotFoundError`` when the object is gone); a failed
        read later raises ``ObjectReadError``, so a network failure is never mistaken for a damaged file."""
        native = self._fs().open_input_file(f"{self.bucket}/{key}")
        return pa.PythonFile(_GuardedInput(native, f"s3://{self.bucket}/{key}"), mode="r")

    def read_schema(self, key: str) -> pa.Schema:
        """The Arrow schema from the object's Parquet footer (only the footer is read).

        Raises ``OSError`` when the object cannot be read or is not Parquet."""
        with self._fs().open_input_file(f"{self.bucket}/{key}") as native:
            try:
                return pq.ParquetFile(native).schema_arrow
            except pa.ArrowException as error:
                if isinstance(error, OSError):
                    raise
                raise OSError(f"s3://{self.bucket}/{key} is not a readable Parquet file: {error}") from None

    def _client(self):
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
        return boto3.client(
            "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=config, **kwargs
        )

    def _fs(self) -> pafs.S3FileSystem:
        if self._filesystem is None:
            kwargs = {}
            if self.credentials is not None:
                kwargs.update(
                    access_key=self.credentials.access_key_id,
                    secret_key=self.credentials.secret_access_key,
                    session_token=self.credentials.session_token,
                )
            if self.endpoint_url:
                url = urlsplit(self.endpoint_url)
                kwargs.update(endpoint_override=url.netloc, scheme=url.scheme or "https")
            # A bucket in another region than the configured one: the listing told us where it is.
            region = self._bucket_region if not self.endpoint_url and self._bucket_region else self.region
            self._filesystem = pafs.S3FileSystem(region=region, **kwargs)
        return self._filesystem


class _GuardedInput:
    """A file object over a pyarrow input that turns its read failures into ``ObjectReadError``.

    Handed to ``pa.PythonFile``: exceptions raised here reach the caller of the Parquet reader as they
    are, whereas pyarrow's own I/O errors and its decoding errors are both plain ``OSError``."""

    def __init__(self, native: pa.NativeFile, location: str):
        self._native = native
        self._location = location

    def _guard(self, call, *args):
        try:
            return call(*args)
        except OSError as error:
            raise ObjectReadError(self._location, error) from error

    def read(self, nbytes: int | None = None) -> bytes:
        return self._guard(self._native.read, nbytes)

    def read_buffer(self, nbytes: int | None = None) -> pa.Buffer:
        return self._guard(self._native.read_buffer, nbytes)

    def seek(self, position: int, whence: int = 0) -> int:
        return self._guard(self._native.seek, position, whence)

    def tell(self) -> int:
        return self._guard(self._native.tell)

    def size(self) -> int:
        return self._guard(self._native.size)

    def close(self) -> None:
        self._native.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


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
