"""bqemulator (BigQuery's REST API over DuckDB) on loopback, for tests and benchmarks: start it on a free port,
create Cloud Billing export tables and insert export rows through the real `google-cloud-bigquery` client.

The emulator lives in a venv of its own (`make emulators`: `.tools/bqemulator`). It loads DuckDB's spatial
extension at start-up and cannot download it offline, so the extension comes from PyPI
(`duckdb-extension-spatial`, the same version as the venv's duckdb) and is placed under
`.tools/bqemulator/duckdb-home/.duckdb/extensions/<version>/<platform>/`, where DuckDB looks when the
emulator runs with that directory as its HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".tools" / "bqemulator"
EXECUTABLE = VENV / "bin" / "bqemulator"
DUCKDB_HOME = VENV / "duckdb-home"
START_SECONDS = 60.0

_F = bigquery.SchemaField
_KEY_VALUE = (_F("key", "STRING"), _F("value", "STRING"))

STANDARD_EXPORT_SCHEMA = [
    _F("billing_account_id", "STRING"),
    _F("service", "RECORD", fields=(_F("id", "STRING"), _F("description", "STRING"))),
    _F("sku", "RECORD", fields=(_F("id", "STRING"), _F("description", "STRING"))),
    _F("usage_start_time", "TIMESTAMP"),
    _F("usage_end_time", "TIMESTAMP"),
    _F(
        "project",
        "RECORD",
        fields=(
            _F("id", "STRING"),
            _F("number", "STRING"),
            _F("name", "STRING"),
            _F("labels", "RECORD", mode="REPEATED", fields=_KEY_VALUE),
            _F("ancestry_numbers", "STRING"),
        ),
    ),
    _F("labels", "RECORD", mode="REPEATED", fields=_KEY_VALUE),
    _F("system_labels", "RECORD", mode="REPEATED", fields=_KEY_VALUE),
    _F(
        "location",
        "RECORD",
        fields=(_F("location", "STRING"), _F("country", "STRING"), _F("region", "STRING"), _F("zone", "STRING")),
    ),
    _F("export_time", "TIMESTAMP"),
    _F("cost", "FLOAT"),
    _F("currency", "STRING"),
    _F("currency_conversion_rate", "FLOAT"),
    _F(
        "usage",
        "RECORD",
        fields=(
            _F("amount", "FLOAT"),
            _F("unit", "STRING"),
            _F("amount_in_pricing_units", "FLOAT"),
            _F("pricing_unit", "STRING"),
        ),
    ),
    _F(
        "credits",
        "RECORD",
        mode="REPEATED",
        fields=(
            _F("name", "STRING"),
            _F("amount", "FLOAT"),
            _F("full_name", "STRING"),
            _F("id", "STRING"),
            _F("type", "STRING"),
        ),
    ),
    _F("invoice", "RECORD", fields=(_F("month", "STRING"),)),
    _F("cost_type", "STRING"),
]
"""The columns of Google's standard usage cost export (`gcp_billing_export_v1_<account>`) that matter here."""
DETAILED_EXPORT_SCHEMA = [
    *STANDARD_EXPORT_SCHEMA,
    _F("resource", "RECORD", fields=(_F("name", "STRING"), _F("global_name", "STRING"))),
]
"""The detailed export (`gcp_billing_export_resource_v1_<account>`) adds the resource."""


class EmulatorUnavailable(RuntimeError):
    pass


class BqEmulator:
    """One emulator process on 127.0.0.1 (REST and gRPC on free ports), in-memory; ``start()``, ``stop()``."""

    def __init__(self, project: str = "costory-emulated", executable: Path = EXECUTABLE):
        self.project = project
        self.executable = executable
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> BqEmulator:
        if not self.executable.exists():
            raise EmulatorUnavailable(f"{self.executable} is missing: run `make emulators`")
        self._workdir = tempfile.TemporaryDirectory(prefix="bqemulator-")
        log_path = Path(self._workdir.name) / "emulator.log"
        env = {
            **os.environ,
            "HOME": str(DUCKDB_HOME),  # DuckDB finds the spatial extension under $HOME/.duckdb
            "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false",  # avro: would try to download
        }
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(self.executable),
                    "start",
                    "--rest-host=127.0.0.1",
                    "--rest-port=0",
                    "--grpc-host=127.0.0.1",
                    "--grpc-port=0",
                    f"--project={self.project}",
                    "--log-level=info",
                    "--log-format=json",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._workdir.name,
                env=env,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            self._port = _rest_port(log_path)
            if self._port is not None:
                return self
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        tail = log_path.read_text(errors="replace").splitlines()[-5:]
        self.stop()
        raise EmulatorUnavailable(
            "bqemulator did not start (if DuckDB's spatial extension is missing, see devtools/bqemulator.py): "
            + " | ".join(tail)
        )

    def stop(self) -> None:
        process, self._process, self._port = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> BqEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> bigquery.Client:
        """An anonymous client of the emulator (the emulator checks no credential)."""
        return bigquery.Client(
            project=self.project, credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    def create_export_table(self, dataset: str, table: str, *, detailed: bool) -> str:
        """An empty export table (and its dataset); its `project.dataset.table`."""
        with self.client() as client:
            client.create_dataset(f"{self.project}.{dataset}", exists_ok=True)
            schema = DETAILED_EXPORT_SCHEMA if detailed else STANDARD_EXPORT_SCHEMA
            client.create_table(bigquery.Table(f"{self.project}.{dataset}.{table}", schema=schema))
        return f"{self.project}.{dataset}.{table}"

    def insert(self, table: str, rows: Iterable[Mapping[str, Any]], chunk: int = 5000) -> None:
        """Rows (export columns as JSON values) appended through `tabledata.insertAll`."""
        with self.client() as client:
            batch: list[Mapping[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == chunk:
                    _insert(client, table, batch)
                    batch = []
            if batch:
                _insert(client, table, batch)


def _insert(client: bigquery.Client, table: str, rows: list[Mapping[str, Any]]) -> None:
    errors = client.insert_rows_json(table, rows, row_ids=[None] * len(rows))
    if errors:
        raise RuntimeError(f"bqemulator refused rows of {table}: {errors[:3]}")


def _rest_port(log_path: Path) -> int | None:
    """The REST port from the emulator's `rest.listen` log event, once written."""
    for line in log_path.read_text(errors="replace").splitlines():
        if '"rest.listen"' not in line:
            continue
        try:
            return int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            return None
    return None
