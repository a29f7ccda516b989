"""`serve` with `COSTORY_REST_PROCESSES=2`: a second process answers REST on the same address (shown by stopping the
first with SIGSTOP: requests are still answered), and it never outlives `serve` (SIGTERM, or SIGKILL of its
parent)."""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import pytest

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.tenants.service import create_tenant
from devtools.replicas import STARTUP_SECONDS, Replica, launch

GONE_SECONDS = 20.0


def start(tmp_path: Path) -> Replica:
    return launch(
        "rest",
        tmp_path,
        {
            "COSTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'costory.db'}",
            "COSTORY_TRUST_VALIDATION": "skip",
            "COSTORY_SCHEDULER_ENABLED": "false",
            "COSTORY_REST_PROCESSES": "2",
        },
    )


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def get(port: int, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", "/v1/virtual-dimensions", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_gone(pid: int) -> float:
    started = time.monotonic()
    while alive(pid):
        assert time.monotonic() - started < GONE_SECONDS, f"REST process {pid} still running"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def token(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'costory.db'}"
    migrate(url)
    engine = create_engine(url)
    with create_sessionmaker(engine).begin() as session:
        _, token = create_tenant(session, "Acme")
    engine.dispose()
    return token


def started_with_a_second_process(tmp_path: Path) -> tuple[Replica, int, int]:
    served = start(tmp_path)
    line = served.wait_for(r"REST API on http://127\.0\.0\.1:(\d+) \(OpenAPI at /openapi.json\), 2 process", 60)
    assert line, served.log()
    port = int(line.group(1))
    deadline = time.monotonic() + STARTUP_SECONDS
    while not (second := children(served.process.pid)):
        assert time.monotonic() < deadline, served.log()
        time.sleep(0.05)
    return served, port, second[0]


def test_the_second_process_answers_while_the_first_is_stopped_and_stops_with_serve(tmp_path, token):
    served, port, second = started_with_a_second_process(tmp_path)
    try:
        assert get(port, token) == 200
        deadline = time.monotonic() + STARTUP_SECONDS
        served.process.send_signal(signal.SIGSTOP)
        try:
            statuses = []
            while time.monotonic() < deadline:  # the second process is up once it answers
                try:
                    statuses.append(get(port, token))
                    break
                except TimeoutError:
                    continue
            statuses += [get(port, token) for _ in range(5)]
        finally:
            served.process.send_signal(signal.SIGCONT)
        assert statuses == [200] * 6
        assert len(children(served.process.pid)) == 1
    finally:
        served.stop()
    assert served.process.returncode == 0, served.log()
    assert not alive(second)


def test_the_second_process_exits_when_serve_is_killed(tmp_path, token):
    served, _port, second = started_with_a_second_process(tmp_path)
    try:
        served.process.kill()
        served.process.wait(10)
        assert wait_gone(second) < GONE_SECONDS
    finally:
        if alive(second):
            os.kill(second, signal.SIGKILL)


def test_zero_processes_is_refused_naming_the_setting(tmp_path, capsys):
    from control_plane.cli import main

    code = main(["serve", "--rest-processes", "0", "--database-url", f"sqlite:///{tmp_path / 'never.db'}"])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: rest_processes (env COSTORY_REST_PROCESSES): Input should be greater than or equal to 1\n"
    )
    assert not (tmp_path / "never.db").exists()
