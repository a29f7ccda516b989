"""Proto messages for metrics datasources and their imports, built from the models: shared by the gRPC
servicer and the REST endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from google.protobuf.descriptor import FieldDescriptor

from control_plane.findings import to_proto as finding_to_proto
from control_plane.messages import timestamp
from control_plane.models import ImportRecord, MetricFile, MetricsDatasource
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_schema.options import terraform_attribute
from costory_schema.problems import Problem

_TYPE_FIELD = cast(FieldDescriptor, pb.MetricsDatasource.DESCRIPTOR.fields_by_name["type"])  # upb: same interface
DATASOURCE_TYPE = terraform_attribute(_TYPE_FIELD).constant


def to_proto(datasource: MetricsDatasource, warnings: Sequence[Problem] = ()) -> pb.MetricsDatasource:
    """The datasource as the API returns it; ``warnings`` are findings of the write that produced it."""
    return pb.MetricsDatasource(
        id=datasource.id,
        name=datasource.name,
        bucket_name=datasource.bucket_name,
        prefix=datasource.prefix,
        role_arn=datasource.role_arn,
        metrics_definition=[
            pb.MetricDefinition(
                metric_name=item.metric_name,
                gap_filling=item.gap_filling,
                aggregation=item.aggregation,
                value_column=item.value_column,
                date_column=item.date_column,
                dimensions=item.dimensions,
                unit=item.unit,
            )
            for item in datasource.metrics_definition
        ],
        status=datasource.status,
        type=DATASOURCE_TYPE,
        status_message=datasource.status_message or "",
        last_import_at=timestamp(datasource.last_import_at),
        findings=[finding_to_proto(f) for f in warnings],
    )


def import_to_proto(row: ImportRecord) -> pb.MetricImport:
    return pb.MetricImport(
        id=row.id,
        datasource_id=row.datasource_id,
        trigger=row.trigger,
        status=row.status,
        started_at=timestamp(row.started_at),
        finished_at=timestamp(row.finished_at),
        files_seen=row.files_seen,
        files_imported=row.files_imported,
        files_unchanged=row.files_unchanged,
        files_quarantined=row.files_quarantined,
        error=row.error or "",
    )


def file_to_proto(row: MetricFile) -> pb.MetricFile:
    return pb.MetricFile(
        key=row.key,
        etag=row.etag,
        size=row.size,
        last_modified=timestamp(row.last_modified),
        status=row.status,
        reason=row.reason or "",
        rows=row.rows,
        imported_at=timestamp(row.imported_at),
    )
