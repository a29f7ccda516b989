"""`costory-control-plane serve` replicas as an operator runs them: separate processes sharing one database and
one data store, each on loopback ports the kernel picks. For tests and demos of a multi-replica deployment."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_SECONDS = 60.0


@dataclass
class Replica:
    name: str
    workdir: Path
    process: subprocess.Popen
    grpc_port: int = 0
    rest_port: int = 0
    lines: queue.Queue = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def wait_for(self, pattern: str, seconds: float) -> re.Match | None:
        """The first line of the replica's log matching ``pattern`` within ``seconds`` (None: exited or timed out)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    return None
                continue
            self.output.append(line)
            if found := re.search(pattern, line):
                return found
        return None

    def log(self) -> str:
        """Everything the replica wrote to stderr so far."""
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def launch(name: str, workdir: Path, environment: Mapping[str, str]) -> Replica:
    """Start `serve` with ``environment`` over the current one (COSTORY_* settings, AWS_* credentials; by default
    its APIs on 127.0.0.1 ports the kernel picks and its data under ``workdir``), its stderr read line by line;
    returns at once, started or not (`wait_for` what it logs)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "COSTORY_GRPC_ADDRESS": "127.0.0.1:0",
        "COSTORY_HTTP_ADDRESS": "127.0.0.1:0",
        "COSTORY_DATA_DIR": str(workdir / "data"),
        **environment,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "control_plane", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=workdir,
    )
    replica = Replica(name, workdir, process)

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            replica.lines.put(line)

    threading.Thread(target=pump, name=f"stderr-{name}", daemon=True).start()
    return replica


def start_replica(name: str, workdir: Path, environment: Mapping[str, str]) -> Replica:
    """`launch`, then wait until both APIs listen and note their ports. Raises RuntimeError with the log when
    the replica does not come up."""
    replica = launch(name, workdir, environment)
    grpc_line = replica.wait_for(r"gRPC API on 127\.0\.0\.1:(\d+)", STARTUP_SECONDS)
    rest_line = replica.wait_for(r"REST API on http://127\.0\.0\.1:(\d+)", STARTUP_SECONDS)
    if grpc_line is None or rest_line is None:
        replica.stop()
        raise RuntimeError(f"replica {name} did not start:\n{replica.log()}")
    replica.grpc_port, replica.rest_port = int(grpc_line.group(1)), int(rest_line.group(1))
    return replica
