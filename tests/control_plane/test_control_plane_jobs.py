"""Jobs: starting the scheduler marks FAILED the imports a killed process left RUNNING (past the lease), and
leaves a live one alone."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from control_plane.jobs import start_scheduler
from control_plane.models import ImportRecord, utcnow
from control_plane.services import Services
from tests.control_plane.imports.support import add_datasource


def test_starting_the_scheduler_marks_abandoned_imports_interrupted(sessions, settings):
    ds = add_datasource(sessions)
    now = utcnow()
    with sessions.begin() as session:
        for owner, heartbeat in (("killed", now - timedelta(hours=1)), ("alive", now - timedelta(seconds=5))):
            session.add(
                ImportRecord(
                    datasource_id=ds, trigger="MANUAL", owner=owner, status="RUNNING", started_at=heartbeat,
                    heartbeat_at=heartbeat,
                )
            )  # fmt: skip
    stop = threading.Event()
    stop.set()
    services = Services(settings, sessions, identity=None, access=None, owner="test")  # type: ignore[arg-type]

    start_scheduler(services, stop).join(10)

    with sessions() as session:
        rows = session.execute(
            sa.select(ImportRecord.owner, ImportRecord.status, ImportRecord.error).order_by(ImportRecord.id)
        )
        assert [tuple(row) for row in rows] == [
            (
                "killed",
                "FAILED",
                "Interrupted: the process running this import stopped; nothing it had not finished is kept, and the "
                "next import reads those files again.",
            ),
            ("alive", "RUNNING", None),
        ]
