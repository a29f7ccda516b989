"""A throwaway local stack for the demo, the benchmarks and the acceptance tests: a control plane
started through its CLI on a loopback port, and the real terraform CLI pointed at our provider mirror.

Whoever starts a process here stops it (``ControlPlaneProcess.stop``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
# Written by `make provider`.
TERRAFORMRC = REPO / ".terraform-provider" / "terraform.rc"
CLI = [sys.executable, "-m", "control_plane"]
CLI_TIMEOUT_SECONDS = 120
"""A one-shot command (migrate, tenants ...) that takes longer is stuck: fail, with what it printed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ControlPlaneProcess:
    address: str
    database_url: str
    process: subprocess.Popen
    log_path: Path
    http_address: str
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run `costory-control-plane ARGS --database-url <this database>` with this server's settings."""
        return run_cli([*args, "--database-url", self.database_url], self.env)

    def create_tenant(self, name: str) -> str:
        return self.cli("tenants", "create", name).stdout.splitlines()[0].strip()

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `costory-control-plane ARGS`, bounded by ``CLI_TIMEOUT_SECONDS``; a failure or a timeout raises
    with the command's output, so a stuck or failing command says why instead of hanging the caller."""
    command = " ".join(["costory-control-plane", *args])
    try:
        result = subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else expired.stderr
        raise RuntimeError(f"`{command}` did not finish in {CLI_TIMEOUT_SECONDS} s; stderr so far:\n{stderr}") from None
    if result.returncode != 0:
        raise RuntimeError(f"`{command}` exited {result.returncode}:\n{result.stderr}")
    return result


def start_control_plane(workdir: Path, env: dict[str, str] | None = None) -> ControlPlaneProcess:
    """Migrate a fresh SQLite file in ``workdir`` and serve it on a free loopback port. ``env`` adds
    ``COSTORY_*`` settings (e.g. the AWS endpoint of an emulator)."""
    database_url = f"sqlite:///{workdir / 'costory.db'}"
    process_env = {**os.environ, "COSTORY_DATA_DIR": str(workdir / "data"), **(env or {})}
    run_cli(["migrate", "--database-url", database_url], process_env)
    address = f"127.0.0.1:{free_port()}"
    log_path = workdir / "control-plane.log"
    http_address = f"127.0.0.1:{free_port()}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--grpc-address", address, "--http-address", http_address, "--database-url", database_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=process_env,
        )
    handle = ControlPlaneProcess(address, database_url, process, log_path, http_address, process_env)
    channel = grpc.insecure_channel(address)
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
    except grpc.FutureTimeoutError:
        handle.stop()
        raise RuntimeError(f"control plane did not start: {log_path.read_text()}") from None
    finally:
        channel.close()
    return handle


class Terraform:
    """Runs the real terraform CLI in one working directory, with our provider mirror configured."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir = workdir
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir),
            "TF_CLI_CONFIG_FILE": str(TERRAFORMRC),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            # Where the provider's warm process lives (tests give it a directory of their own, then stop it).
            **{k: os.environ[k] for k in ("COSTORY_PROVIDER_WARM_DIR",) if k in os.environ},
            **env,
        }

    def write(self, main_tf: str, name: str = "main.tf") -> None:
        (self.workdir / name).write_text(main_tf)

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        # `terraform state ...` subcommands take no -no-color flag.
        command = ["terraform", *args] if args[0] == "state" else ["terraform", *args, "-no-color"]
        result = subprocess.run(
            command,
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def init(self) -> None:
        self.run("init", "-input=false")

    def apply(self, *extra: str) -> subprocess.CompletedProcess:
        return self.run("apply", "-auto-approve", "-input=false", *extra)

    def plan_exit_code(self, *extra: str) -> int:
        """0: no changes, 2: changes (``-detailed-exitcode``); anything else fails the test."""
        result = self.run("plan", "-input=false", "-detailed-exitcode", *extra, check=False)
        if result.returncode not in (0, 2):
            raise AssertionError(f"plan failed ({result.returncode})\n{result.stdout}\n{result.stderr}")
        return result.returncode

    def plan_json(self, *extra: str) -> dict:
        """The saved plan as ``terraform show -json`` renders it."""
        self.run("plan", "-input=false", "-out=tfplan", *extra)
        return json.loads(self.run("show", "-json", "tfplan").stdout)

    def plan_diagnostics(self, *extra: str) -> list[dict]:
        """Diagnostics of a plan run with ``-json`` (which may fail)."""
        result = self.run("plan", "-input=false", "-json", *extra, check=False)
        out = []
        for line in result.stdout.splitlines():
            event = json.loads(line)
            if event.get("type") == "diagnostic":
                out.append(event["diagnostic"])
        return out

    def state(self) -> dict:
        return json.loads(self.run("show", "-json").stdout)

    def resources(self) -> dict[str, dict]:
        """Resource address -> attribute values from the current state."""
        values = self.state().get("values") or {}
        return {r["address"]: r["values"] for r in values.get("root_module", {}).get("resources", [])}


def terraform_available() -> bool:
    return shutil.which("terraform") is not None and TERRAFORMRC.exists()


@dataclass
class MotoServer:
    """moto's S3/IAM/STS emulator in its own process on a loopback port."""

    endpoint: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def s3(self):
        """A boto3 S3 client on the emulator (moto takes any credentials)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        """Forget every bucket, role and object (moto's reset API)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10)


def start_moto(workdir: Path) -> MotoServer:
    import urllib.error
    import urllib.request

    port = free_port()
    with open(workdir / "moto.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        )
    server = MotoServer(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{server.endpoint}/moto-api/data.json", timeout=1)
            return server
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or process.poll() is not None:
                server.stop()
                raise RuntimeError(f"moto did not start: {(workdir / 'moto.log').read_text()}") from None
            time.sleep(0.1)


def aws_emulator_override(endpoint: str) -> str:
    """A Terraform override file pointing the hashicorp/aws provider at an emulator, so an example
    configuration stays exactly what a user runs against real AWS."""
    return f"""# Written by the test harness: points hashicorp/aws at a local emulator. Not part of the example.
provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {{
    s3  = "{endpoint}"
    iam = "{endpoint}"
    sts = "{endpoint}"
  }}
}}
"""


def main(argv: list[str]) -> int:
    """`python -m devtools.local aws-override ENDPOINT`: print the override file (README: try it with no AWS)."""
    if len(argv) != 2 or argv[0] != "aws-override":
        print("usage: python -m devtools.local aws-override http://127.0.0.1:5000", file=sys.stderr)
        return 2
    print(aws_emulator_override(argv[1]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
