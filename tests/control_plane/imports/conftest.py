"""Import fixtures: the billing bucket in moto (the metrics bucket is ``bucket``, in tests/control_plane)."""

from __future__ import annotations

import boto3
import pytest

from tests.control_plane.imports.support import BILLING_BUCKET, CREDENTIALS, REGION


@pytest.fixture
def billing_s3(moto):
    """A client of the moto S3 holding the (empty) billing bucket."""
    client = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS.access_key_id,
        aws_secret_access_key=CREDENTIALS.secret_access_key,
    )
    client.create_bucket(Bucket=BILLING_BUCKET)
    return client
