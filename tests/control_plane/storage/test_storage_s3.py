"""S3ObjectStore against moto with explicit credentials, and what storage failures mean."""

from __future__ import annotations

from datetime import UTC, date

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from control_plane.imports.errors import ObjectReadError, TerminalImportError, TransientImportError
from control_plane.metrics.reader import MetricSpec, read_metrics
from control_plane.storage import AwsCredentials, listing_failure, reading_failure
from tests.control_plane.imports.support import BUCKET, CREDENTIALS, PREFIX, usage


class TestS3ObjectStore:
    def test_lists_parquet_objects_under_the_prefix_oldest_first(self, bucket):
        body = usage(["2024-01-01"], ["a"], [1])
        b_etag = bucket.put("2024-01-02.parquet", body, later=True)
        a_etag = bucket.put("2024-01-01.PARQUET", body, later=True)
        bucket.put("notes.csv", b"not listed")
        bucket.put("other.parquet", body, prefix="elsewhere/")
        bucket.put("nested/2024-01-03.parquet", body, later=True)

        listed = bucket.store().list_parquet()

        assert [o.key for o in listed] == [
            f"{PREFIX}2024-01-02.parquet",
            f"{PREFIX}2024-01-01.PARQUET",
            f"{PREFIX}nested/2024-01-03.parquet",
        ]
        assert [o.etag for o in listed[:2]] == [b_etag, a_etag]
        assert not any('"' in o.etag for o in listed)
        assert {o.size for o in listed} == {len(body)}
        assert all(o.last_modified.tzinfo is UTC for o in listed)
        assert listed[0].last_modified < listed[1].last_modified < listed[2].last_modified

    def test_equal_last_modified_is_ordered_by_key(self, bucket):
        body = usage(["2024-01-01"], ["a"], [1])
        for name in ("c.parquet", "a.parquet", "b.parquet"):
            bucket.put(name, body)
        listed = bucket.store().list_parquet()
        assert listed == sorted(listed, key=lambda o: (o.last_modified, o.key))

    def test_no_prefix_lists_the_whole_bucket(self, bucket):
        bucket.put("top.parquet", usage(["2024-01-01"], ["a"], [1]), prefix="", later=True)
        bucket.put("x.parquet", usage(["2024-01-01"], ["a"], [1]), later=True)
        assert [o.key for o in bucket.store(prefix=None).list_parquet()] == [
            "top.parquet",
            f"{PREFIX}x.parquet",
        ]

    def test_open_streams_the_object_into_the_reader(self, bucket):
        bucket.put("day.parquet", usage(["2024-01-01", "2024-01-01"], ["a", "b"], [2, 3]))
        spec = MetricSpec("api_calls", "date", "api_call_count", ("team",))
        source = bucket.store().open(f"{PREFIX}day.parquet")
        try:
            table = read_metrics(source, [spec])["api_calls"]
        finally:
            source.close()
        assert table.to_pylist() == [
            {"day": date(2024, 1, 1), "team": "a", "value": 2.0, "row_count": 1},
            {"day": date(2024, 1, 1), "team": "b", "value": 3.0, "row_count": 1},
        ]

    def test_read_schema_reads_the_footer(self, bucket):
        bucket.put("day.parquet", usage(["2024-01-01"], ["a"], [2]))
        schema = bucket.store().read_schema(f"{PREFIX}day.parquet")
        assert schema.names == ["date", "team", "api_call_count"]
        assert schema.field("api_call_count").type == pa.int64()

    def test_read_schema_of_a_file_that_is_not_parquet_is_an_os_error(self, bucket):
        bucket.put("broken.parquet", b"definitely not parquet")
        with pytest.raises(OSError, match="is not a readable Parquet file"):
            bucket.store().read_schema(f"{PREFIX}broken.parquet")

    def test_open_a_vanished_object(self, bucket):
        with pytest.raises(FileNotFoundError):
            bucket.store().open(f"{PREFIX}gone.parquet")

    def test_missing_bucket_raises_the_client_error(self, bucket):
        bucket.client.delete_bucket(Bucket=BUCKET)
        with pytest.raises(ClientError) as raised:
            bucket.store().list_parquet()
        assert raised.value.response["Error"]["Code"] == "NoSuchBucket"

    def test_credentials_stay_out_of_repr(self):
        text = repr(AwsCredentials("AKIAEXAMPLE", "the-secret", "the-token"))
        assert "the-secret" not in text and "the-token" not in text
        assert "AKIAEXAMPLE" in text

    def test_store_uses_the_given_credentials(self, bucket, monkeypatch):
        # With explicit credentials, none come from the environment.
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        bucket.put("day.parquet", usage(["2024-01-01"], ["a"], [2]))
        store = bucket.store()
        assert store.credentials == CREDENTIALS
        assert [o.key for o in store.list_parquet()] == [f"{PREFIX}day.parquet"]
        assert store.read_schema(f"{PREFIX}day.parquet").names == ["date", "team", "api_call_count"]


def client_error(code: str, status: int, message: str = "message") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListObjectsV2",
    )


class TestFailures:
    @pytest.mark.parametrize(
        "error",
        [
            client_error("SlowDown", 503),
            client_error("Throttling", 400),
            client_error("InternalError", 500),
            client_error("RequestTimeout", 400),
            client_error("ExpiredToken", 400),
            EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
            OSError("AWS Error NETWORK_CONNECTION during HeadObject operation: curlCode: 7"),
            OSError("AWS Error UNKNOWN (HTTP status 503) during GetObject operation: No response body."),
            OSError("AWS Error SLOW_DOWN during GetObject operation: Please reduce your request rate."),
            ObjectReadError("s3://b/k", OSError("Connection reset by peer")),
        ],
        ids=lambda e: type(e).__name__ + ":" + str(e)[:40],
    )
    def test_transient(self, error):
        assert isinstance(listing_failure(error, "b", "p/"), TransientImportError)
        assert isinstance(reading_failure(error, "b", "p/k.parquet"), TransientImportError)

    @pytest.mark.parametrize(
        "error",
        [
            client_error("AccessDenied", 403),
            client_error("NoSuchBucket", 404),
            client_error("InvalidAccessKeyId", 403),
            OSError("AWS Error ACCESS_DENIED during GetObject operation: Access Denied"),
            OSError("AWS Error UNKNOWN (HTTP status 403) during HeadObject operation: No response body."),
        ],
        ids=lambda e: type(e).__name__ + ":" + str(e)[:40],
    )
    def test_terminal(self, error):
        assert isinstance(listing_failure(error, "b", "p/"), TerminalImportError)
        assert isinstance(reading_failure(error, "b", "p/k.parquet"), TerminalImportError)

    def test_messages_name_the_remedy(self):
        assert listing_failure(client_error("AccessDenied", 403), "b", "p/").message == (
            "The role may not list s3://b/p/ (AccessDenied). Allow `s3:ListBucket` on `arn:aws:s3:::b` in the "
            "role's permissions policy."
        )
        assert listing_failure(client_error("NoSuchBucket", 404), "b", "p/").message == (
            "Bucket `b` does not exist. Create it, or correct `bucket_name`."
        )
        assert reading_failure(
            OSError("AWS Error ACCESS_DENIED during GetObject operation: x"), "b", "p/k"
        ).message == (
            "The role may not read s3://b/p/k (AccessDenied). Allow `s3:GetObject` on `arn:aws:s3:::b/*` in the "
            "role's permissions policy (and `kms:Decrypt` when the objects are encrypted with a KMS key)."
        )
        assert listing_failure(
            client_error("SlowDown", 503, "Reduce your request rate"), "b", "p/"
        ).message == (
            "Listing s3://b/p/ failed temporarily (SlowDown: Reduce your request rate); the import is retried "
            "automatically."
        )
