"""Azurite (the Azure Storage emulator) on loopback for tests, the demo and the benchmark, and helpers that
deliver Cost Management export runs into it the way Cost Management does: data blobs plus a
``manifest.json`` describing the run.

The account is the emulator's public development account (`devstoreaccount1` and the key Microsoft documents
for it); nothing here talks to Azure.

    .venv/bin/python -m devtools.azurite   # Azurite with a sample month of exports; prints the datasource's attributes
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from azure.storage.blob import (
    AccessPolicy,
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)

ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""The emulator's well-known development key (published by Microsoft; not a secret)."""
AZURITE = Path(__file__).resolve().parents[1] / ".tools" / "node_modules" / ".bin" / "azurite-blob"
LISTENING = re.compile(r"listens on (http://127\.0\.0\.1:(\d+))")


@dataclass
class Azurite:
    """``azurite-blob`` on 127.0.0.1 at a port it picks, with its data in a temporary folder removed at stop."""

    binary: Path = AZURITE
    startup_seconds: float = 30.0
    port: int = 0
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _location: str | None = field(default=None, repr=False)

    def start(self) -> Azurite:
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} is missing: run `make emulators` first")
        self._location = tempfile.mkdtemp(prefix="azurite-")
        command = [
            str(self.binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            self._location,
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ}
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(self._process, lines), daemon=True).start()
        deadline = datetime.now(UTC) + timedelta(seconds=self.startup_seconds)
        while datetime.now(UTC) < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self._process.poll() is not None:
                    break
                continue
            match = LISTENING.search(line)
            if match:
                self.port = int(match.group(2))
                return self
        self.stop()
        raise RuntimeError("azurite-blob did not start listening")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._location:
            shutil.rmtree(self._location, ignore_errors=True)
            self._location = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def service(self) -> BlobServiceClient:
        """A client holding the account key: what the customer's side (Cost Management) writes with."""
        return BlobServiceClient(
            account_url=self.account_url, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY}
        )

    def create_container(self, name: str) -> ContainerClient:
        container = self.service().get_container_client(name)
        container.create_container()
        return container

    def container_sas_url(
        self,
        container: str,
        *,
        expiry: datetime | None = None,
        policy_id: str | None = None,
        permission: str = "rl",
    ) -> str:
        """The URL a customer gives us: the container's URL with a SAS (read + list by default). With
        ``policy_id`` the SAS is bound to that stored access policy (deleting the policy revokes it)."""
        token = generate_container_sas(
            account_name=ACCOUNT,
            container_name=container,
            account_key=ACCOUNT_KEY,
            permission=None if policy_id else ContainerSasPermissions.from_string(permission),
            expiry=None if policy_id else (expiry or datetime.now(UTC) + timedelta(hours=2)),
            policy_id=policy_id,
        )
        return f"{self.account_url}/{container}?{token}"

    def set_policy(self, container: str, policy_id: str | None, permission: str = "rl") -> None:
        """Stores one access policy on the container (``None``: removes every policy, revoking SASes bound to
        them)."""
        identifiers: dict[str, AccessPolicy] = {}
        if policy_id:
            identifiers[policy_id] = AccessPolicy(
                permission=ContainerSasPermissions.from_string(permission),
                expiry=datetime.now(UTC) + timedelta(hours=2),
                start=datetime.now(UTC) - timedelta(minutes=5),
            )
        self.service().get_container_client(container).set_container_access_policy(signed_identifiers=identifiers)


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


@dataclass(frozen=True)
class ExportRunSpec:
    """One run of a Cost Management export, as delivered: its data files and what its manifest says."""

    export_name: str
    export_type: str
    """"ActualCost" or "AmortizedCost"."""
    run_id: str
    submitted: datetime
    start: date
    end: date
    """The last day the run covers."""
    files: Mapping[str, bytes | Path]
    """Data file name -> its bytes (or a local file to upload)."""
    file_format: str = "Parquet"
    data_version: str = "2023-12-01-preview"


def upload_run(container: ContainerClient, path: str, run: ExportRunSpec) -> str:
    """Writes the run's data blobs and then its ``manifest.json`` under
    ``<path>/<start>-<end>/<run_id>/``; returns the manifest's blob name."""
    folder = f"{path.strip('/')}/{run.start:%Y%m%d}-{run.end:%Y%m%d}/{run.run_id}"
    blobs: list[dict[str, str | int]] = []
    sizes = 0
    for name, content in run.files.items():
        blob_name = f"{folder}/{name}"
        if isinstance(content, Path):
            with content.open("rb") as data:
                container.upload_blob(blob_name, data, overwrite=True, max_concurrency=4)
            size = content.stat().st_size
        else:
            container.upload_blob(blob_name, content, overwrite=True)
            size = len(content)
        blobs.append({"blobName": blob_name, "byteCount": size})
        sizes += size
    compression = "Snappy" if run.file_format == "Parquet" else "Gzip"
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": sizes,
        "blobCount": len(blobs),
        "exportConfig": {
            "exportName": run.export_name,
            "resourceId": f"/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.CostManagement"
            f"/exports/{run.export_name}",
            "dataVersion": run.data_version,
            "apiVersion": "2023-07-01-preview",
            "type": run.export_type,
            "timeFrame": "MonthToDate",
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "OverwritePreviousReport",
            "fileFormat": run.file_format,
            "compressionMode": compression,
            "containerUri": f"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}",
            "rootFolderPath": path.strip("/"),
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": run.submitted.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
            "runId": run.run_id,
            "startDate": f"{run.start:%Y-%m-%d}T00:00:00",
            "endDate": f"{run.end:%Y-%m-%d}T00:00:00",
        },
        "blobs": blobs,
    }
    manifest_name = f"{folder}/manifest.json"
    container.upload_blob(manifest_name, json.dumps(manifest).encode(), overwrite=True)
    return manifest_name


def parquet_bytes(table: pa.Table) -> bytes:
    """The table as a snappy Parquet file, as Cost Management writes Parquet exports."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def csv_gz_bytes(table: pa.Table) -> bytes:
    """The table as gzipped CSV with a UTF-8 byte-order mark, as Cost Management writes CSV exports."""
    text = io.BytesIO()
    pa_csv.write_csv(table, text)
    return gzip.compress(b"\xef\xbb\xbf" + text.getvalue())


def sample_month(container: ContainerClient, month: date, *, actuals_path: str, amortized_path: str) -> None:
    """A small month of EA exports to try the datasource with: three days of a VM (covered by a reservation bought
    on the 1st) and of Azure OpenAI tokens of two teams' deployments; actual cost in Parquet, amortized cost in
    gzipped CSV."""
    days = [month + timedelta(days=offset) for offset in range(3)]
    account = "/subscriptions/sub-ai/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/ai-shared"
    vm = "/subscriptions/sub-web/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-01"
    lines = [  # resource, category, meter, quantity, unit, tags
        (vm, "Virtual Machines", "D2s v3", "24", "1 Hour", '"team": "web"'),
        (
            f"{account}/deployments/team-a-gpt4o",
            "Azure OpenAI",
            "gpt 4o 0513 Input global Tokens",
            "1200",
            "1K",
            '"team": "a"',
        ),
        (
            f"{account}/deployments/team-b-gpt4o",
            "Azure OpenAI",
            "gpt 4o 0513 Output global Tokens",
            "300",
            "1K",
            '"team": "b"',
        ),
    ]

    def export(costs: list[str], purchase: str | None) -> pa.Table:
        rows = [(day, *line, cost, "Usage") for day in days for line, cost in zip(lines, costs, strict=True)]
        if purchase:  # the reservation, billed on the 1st
            rows.append((days[0], vm, "Virtual Machines", "1 Year Reservation", "1", "1", "", purchase, "Purchase"))
        names = ["Date", "ResourceId", "MeterCategory", "MeterName", "Quantity", "UnitOfMeasure", "Tags"]
        columns = {name: [row[index] for row in rows] for index, name in enumerate(names)}
        columns["Date"] = [f"{day:%m/%d/%Y}" for day in columns["Date"]]
        return pa.table(
            {
                **columns,
                "SubscriptionId": [r[1].split("/")[2] for r in rows],
                "CostInBillingCurrency": [r[7] for r in rows],
                "BillingCurrencyCode": ["USD"] * len(rows),
                "ChargeType": [r[8] for r in rows],
            }
        )

    submitted = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), UTC)
    actual = export(["0", "3.0", "4.5"], purchase="365.0")
    actual = actual.set_column(
        actual.schema.get_field_index("CostInBillingCurrency"),
        "CostInBillingCurrency",
        actual.column("CostInBillingCurrency").cast(pa.float64()),
    )
    files_actual = {"part_0_0001.parquet": parquet_bytes(actual)}
    files_amortized = {"part_0_0001.csv.gz": csv_gz_bytes(export(["1.0", "3.0", "4.5"], purchase=None))}
    end = days[-1]
    upload_run(
        container, actuals_path, ExportRunSpec("sample-actual", "ActualCost", "a1", submitted, month, end, files_actual)
    )
    upload_run(
        container,
        amortized_path,
        ExportRunSpec("sample-amortized", "AmortizedCost", "m1", submitted, month, end, files_amortized, "Csv"),
    )


def main() -> None:
    """Azurite with a sample month of exports, until interrupted; prints what to put in the resource."""
    today = datetime.now(UTC).date()
    with Azurite() as azurite:
        container = azurite.create_container("exports")
        sample_month(container, today.replace(day=1), actuals_path="costs/actual", amortized_path="costs/amortized")
        sas_url = azurite.container_sas_url("exports", expiry=datetime.now(UTC) + timedelta(days=1))
        print(f'storage_account_name = "{ACCOUNT}"')
        print('container_name       = "exports"')
        print('actuals_path         = "costs/actual"')
        print('amortized_path       = "costs/amortized"')
        print(f'sas_url              = "{sas_url}"')
        print("Azurite is serving on loopback; Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
