"""One control-plane process's scheduler, for the multi-process tests: one tick at a fixed instant.

    python tests/control_plane/scheduler/worker.py --url URL --now 2026-01-10T07:00:00Z --owner A

Each executed run is recorded as (run_id, owner) in the test's ``executions`` table, after ``--sleep``
seconds. ``--ready``/``--go`` line workers up: write the first file once connected, then wait for the
second. ``--block FILE``: write the run id to FILE after claiming and then hang until killed (a process
that dies holding a lease). Prints ``{"owner": ..., "executed": n}`` on success.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from control_plane.db import create_engine, create_sessionmaker
from control_plane.scheduler import ClaimedRun, Scheduler
from control_plane.settings import Settings

WAIT_LIMIT_SECONDS = 120
"""A worker left waiting (for --go, or blocked) longer than this exits on its own."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--lease-seconds", type=float, default=600.0)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--block", type=Path)
    args = parser.parse_args()

    engine = create_engine(args.url)
    settings = Settings(database_url=args.url, lease_seconds=args.lease_seconds, schedule_hour_utc=6)

    def execute(run: ClaimedRun) -> None:
        if args.block is not None:
            args.block.write_text(str(run.id))
            _wait_for(lambda: False)
        time.sleep(args.sleep)
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO executions (run_id, owner) VALUES (:run_id, :owner)"),
                {"run_id": run.id, "owner": run.owner},
            )

    scheduler = Scheduler(
        create_sessionmaker(engine), execute, settings=settings, owner=args.owner, now=lambda: args.now
    )
    with engine.connect():
        pass
    if args.ready is not None:
        args.ready.write_text(args.owner)
    if args.go is not None:
        _wait_for(args.go.exists)
    executed = scheduler.tick()
    engine.dispose()
    print(json.dumps({"owner": args.owner, "executed": executed}))


def _wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("worker: gave up waiting")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
