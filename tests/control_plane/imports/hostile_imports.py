"""Run the imports of the hostile-file table in a process of their own and report its peak memory.

    python -m tests.control_plane.imports.hostile_imports '<json>'

The JSON names the database, the data directory, the S3 endpoint and the datasources (kind, id, bucket, prefix).
Nothing but the imports runs here, with no Services and no server: the peak resident set (VmHWM) it prints is
what the imports cost. Prints one JSON object: each datasource's escaped exception (None when the import
returned) and the peak RSS in bytes.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from control_plane.billing.importer import import_billing
from control_plane.billing.store import CostStore
from control_plane.db import create_engine, create_sessionmaker
from control_plane.metrics.importer import import_datasource
from control_plane.storage import AwsCredentials, S3ObjectStore

CREDENTIALS = AwsCredentials("testing", "testing")


def peak_rss() -> int:
    """This process's peak resident set in bytes (VmHWM; not ru_maxrss, which Linux carries over on fork)."""
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match is not None, "VmHWM is missing from /proc/self/status"
    return int(match.group(1)) * 1024


def main(argument: str) -> None:
    job = json.loads(argument)
    engine = create_engine(job["database_url"])
    sessions = create_sessionmaker(engine)
    costs = CostStore(Path(job["data_dir"]))
    errors: dict[str, str | None] = {}
    for source in job["datasources"]:
        store = S3ObjectStore(
            source["bucket"], source["prefix"], credentials=CREDENTIALS, region="us-east-1",
            endpoint_url=job["endpoint"],
        )
        try:
            if source["kind"] == "metrics":
                import_datasource(
                    sessions, source["id"], store, trigger="MANUAL", owner="hostile", now=lambda: datetime.now(UTC)
                )
            else:
                import_billing(sessions, source["id"], store, costs, owner="hostile")
            errors[source["id"]] = None
        except Exception as error:  # reported to the test, which asserts there is none
            errors[source["id"]] = f"{type(error).__name__}: {error}"
    engine.dispose()
    print(json.dumps({"errors": errors, "peak_rss": peak_rss()}))


if __name__ == "__main__":
    main(sys.argv[1])
