"""`costory-control-plane serve` as an operator runs it (a subprocess): a port in use stops it at once with a
message naming the address, and a 50 MB body is refused with 413 before it is read, authenticated or not,
while the server's peak memory stays within a stated bound."""

from __future__ import annotations

import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.tenants.service import create_tenant
from devtools.replicas import STARTUP_SECONDS, Replica, launch

EXIT_SECONDS = 10.0
"""A second `serve` on a used port must be gone within this (it needs ~2 s to import and migrate)."""
BODY_BYTES = 50 * 1024 * 1024
PEAK_GROWTH_BOUND = 16 * 1024 * 1024
"""What refusing the 50 MB bodies may add to the server's peak RSS (VmHWM): the limit is 1 MiB."""


def serve(tmp_path: Path, name: str, grpc_address: str, http_address: str) -> Replica:
    return launch(
        name,
        tmp_path,
        {
            "COSTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'costory.db'}",
            "COSTORY_TRUST_VALIDATION": "skip",
            "COSTORY_GRPC_ADDRESS": grpc_address,
            "COSTORY_HTTP_ADDRESS": http_address,
        },
    )


@pytest.fixture
def first(tmp_path) -> Iterator[tuple[Replica, int, int]]:
    """A running `serve` on ports picked by the kernel: (process, gRPC port, REST port)."""
    migrate(f"sqlite:///{tmp_path / 'costory.db'}")
    served = serve(tmp_path, "first", "127.0.0.1:0", "127.0.0.1:0")
    try:
        grpc_line = served.wait_for(r"gRPC API on 127\.0\.0\.1:(\d+)", STARTUP_SECONDS)
        rest_line = served.wait_for(r"REST API on http://127\.0\.0\.1:(\d+)", STARTUP_SECONDS)
        assert grpc_line and rest_line, served.log()
        yield served, int(grpc_line.group(1)), int(rest_line.group(1))
    finally:
        served.stop()


@pytest.mark.parametrize("taken", ["grpc", "rest"])
def test_a_second_serve_on_a_used_port_exits_at_once_naming_the_address(first, tmp_path, taken):
    _served, grpc_port, rest_port = first
    grpc_address = f"127.0.0.1:{grpc_port}" if taken == "grpc" else "127.0.0.1:0"
    http_address = f"127.0.0.1:{rest_port}" if taken == "rest" else "127.0.0.1:0"
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    started = time.monotonic()
    second = serve(second_dir, "second", grpc_address, http_address)
    try:
        code = second.process.wait(EXIT_SECONDS + 20)
    except subprocess.TimeoutExpired:
        second.stop()
        pytest.fail(f"the second serve kept running:\n{second.log()}")
    seconds = time.monotonic() - started
    output = second.log()
    taken_address = grpc_address if taken == "grpc" else http_address
    kind = "gRPC" if taken == "grpc" else "REST"

    assert code == 1, output
    assert f"error: cannot listen on the {kind} address {taken_address}" in output
    assert "REST API on" not in output
    assert seconds < EXIT_SECONDS, output


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def response_to(sock: socket.socket, chunks: Iterator[bytes]) -> bytes:
    """Send ``chunks`` until the server answers (reading as soon as it does), then read the answer."""
    for chunk in chunks:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            break
    sock.settimeout(10)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def body_chunks(total: int, size: int = 64 * 1024, *, chunked: bool) -> Iterator[bytes]:
    block = b'{"group_by": [' + b'"tag:k",' * (size // 8)
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        time.sleep(0.001)


@pytest.mark.parametrize("authenticated", [False, True], ids=["anonymous", "with-token"])
def test_a_50_mb_body_is_refused_before_it_is_read(first, tmp_path, authenticated):
    served, _grpc_port, rest_port = first
    token = ""
    if authenticated:
        engine = create_engine(f"sqlite:///{tmp_path / 'costory.db'}")
        with create_sessionmaker(engine).begin() as session:
            token = create_tenant(session, "Tenant A")[1]
        engine.dispose()
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    before = peak_rss(served.process.pid)

    with socket.create_connection(("127.0.0.1", rest_port)) as sock:
        sock.sendall(
            b"POST /v1/costs:query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + auth
            + b"Content-Length: %d\r\n\r\n" % BODY_BYTES
        )
        declared = response_to(sock, body_chunks(BODY_BYTES, chunked=False))
    with socket.create_connection(("127.0.0.1", rest_port)) as sock:
        sock.sendall(
            b"POST /v1/costs:query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + auth
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        streamed = response_to(sock, body_chunks(BODY_BYTES, chunked=True))
    growth = peak_rss(served.process.pid) - before

    refused = b'{"detail":"The request body is over 1048576 bytes; send less per request."}'
    assert declared.startswith(b"HTTP/1.1 413 "), declared[:200]
    assert declared.endswith(refused)
    assert streamed.startswith(b"HTTP/1.1 413 "), streamed[:200]
    assert streamed.endswith(refused)
    assert growth < PEAK_GROWTH_BOUND, f"peak RSS grew by {growth / 2**20:.1f} MiB"
    assert served.process.poll() is None


def test_20000_group_by_entries_get_400_naming_group_by(first, tmp_path):
    import http.client
    import json

    _served, _grpc_port, rest_port = first
    engine = create_engine(f"sqlite:///{tmp_path / 'costory.db'}")
    with create_sessionmaker(engine).begin() as session:
        token = create_tenant(session, "Tenant A")[1]
    engine.dispose()
    body = json.dumps({"query": {"start_date": "2026-01-01", "end_date": "2026-01-31", "group_by": ["tag:k"] * 20_000}})
    connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=30)
    connection.request(
        "POST",
        "/v1/costs:query",
        body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    detail = json.loads(response.read())["detail"]
    connection.close()

    assert (response.status, detail) == (
        400,
        [
            {
                "loc": ["query", "group_by"],
                "msg": "`group_by` has 20000 items; at most 1000 are accepted.",
                "type": "Too Many Items",
            }
        ],
    )
