"""An import as the scheduler and the APIs run it: through the datasource's role, assumed as its tenant with the
tenant's Google identity, then the pipeline. Every connector reading a customer's bucket goes through here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from control_plane.imports.errors import ImportFailed, TerminalImportError, TransientImportError
from control_plane.imports.pipeline import Connector, ImportSummary, record_failure, run_import
from control_plane.models import BillingDatasource, MetricsDatasource, utcnow
from control_plane.services import Services
from control_plane.storage import S3ObjectStore
from control_plane.trust.access import AccessDenied


def import_through_role(
    services: Services, connector: Connector[Any], *, trigger: str, run_id: int | None = None
) -> ImportSummary:
    """Assume the datasource's role, then run the pipeline. A role that cannot be assumed is recorded as a FAILED
    import (the datasource in ERROR) and raised: ``TransientImportError`` (STS unreachable, IAM propagation) or
    ``TerminalImportError`` (the role does not trust us). Other failures are the pipeline's."""
    model = connector.status_model()
    failure: ImportFailed | None = None
    with services.sessions.begin() as session:
        datasource = cast(MetricsDatasource | BillingDatasource | None, session.get(model, connector.datasource_id))
        if datasource is None:
            kind = "Billing datasource" if model is BillingDatasource else "Datasource"
            raise TerminalImportError(f"{kind} `{connector.datasource_id}` does not exist (it may have been deleted).")
        bucket, prefix = datasource.bucket_name, datasource.prefix
        try:
            credentials = services.access.credentials(session, datasource.tenant_id, datasource.role_arn)
        except AccessDenied as denied:
            failure = (TransientImportError if denied.transient else TerminalImportError)(denied.finding.detail)
    if failure is not None:
        record_failure(
            services.sessions, connector, failure, trigger=trigger, owner=services.owner, run_id=run_id, now=utcnow()
        )
        raise failure
    store = S3ObjectStore(
        bucket,
        prefix,
        credentials=credentials,
        region=services.settings.aws_region,
        endpoint_url=services.settings.aws_endpoint_url,
    )
    return run_import(
        services.sessions,
        connector,
        store,
        trigger=trigger,
        owner=services.owner,
        now=utcnow,
        run_id=run_id,
        stale_after=timedelta(seconds=services.settings.lease_seconds),
    )
