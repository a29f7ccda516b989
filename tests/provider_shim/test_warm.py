"""Warm starts: the launcher Terraform executes hands each start to a zygote that forks the provider.

Every test runs the real launcher script (as ``make provider`` writes it) with its own zygote directory and
stops the zygotes it started. Whether a start was warm is read from /proc: a cold start execs
``python -I -m provider_shim`` in the launcher's process; a warm one leaves the launcher as it is and serves
from a child of the zygote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from costory_proto import tfplugin6_pb2 as tf
from costory_proto import tfplugin6_pb2_grpc
from costory_proto.plugin import grpc_controller_pb2, grpc_controller_pb2_grpc
from provider_shim import wire
from provider_shim.launcher import (
    MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE,
    PACKAGES,
    code_key,
    request,
    same_user,
    script,
    socket_path,
)
from provider_shim.plugin import dial
from provider_shim.schema import provider_schema
from provider_shim.zygote import stop_zygotes, zygote_pids
from tests.provider_shim.test_schema import RESOURCES

VERSION = version("costory-selfhosted")
TIMEOUT = 30


@pytest.fixture
def warm_dir():
    directory = tempfile.mkdtemp(prefix="cw-")  # short: a unix socket path must fit in 108 bytes
    yield directory
    stop_zygotes(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def launcher(tmp_path) -> str:
    path = tmp_path / "terraform-provider-costory"
    path.write_text(script(sys.executable, VERSION))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def start(launcher, warm_dir):
    """Starts the launcher as Terraform does; every launcher started is killed at the end."""
    started: list[Launched] = []

    def run(extra_env: dict[str, str] | None = None, cwd: Path | None = None) -> Launched:
        env = {
            "PATH": os.environ["PATH"],
            MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
            "PLUGIN_PROTOCOL_VERSIONS": "5,6",
            "COSTORY_PROVIDER_WARM_DIR": warm_dir,
            "COSTORY_PROVIDER_WARM_IDLE": "60",
            **(extra_env or {}),
        }
        launched = Launched(launcher, env, cwd)
        started.append(launched)
        return launched

    yield run
    for launched in started:
        launched.close()


class Launched:
    def __init__(self, launcher: str, env: dict[str, str], cwd: Path | None):
        self.process = subprocess.Popen(
            [launcher], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
        assert self.process.stdout is not None
        self.handshake = self.process.stdout.readline().decode()
        self.channel = dial(self.handshake)
        self.provider = tfplugin6_pb2_grpc.ProviderStub(self.channel)

    @property
    def warm(self) -> bool:
        return b"\0-m\0provider_shim\0" not in Path(f"/proc/{self.process.pid}/cmdline").read_bytes()

    def schema(self) -> bytes:
        response = self.provider.GetProviderSchema(tf.GetProviderSchema.Request(), timeout=TIMEOUT)
        return response.SerializeToString(deterministic=True)

    def shut_down(self) -> int:
        grpc_controller_pb2_grpc.GRPCControllerStub(self.channel).Shutdown(grpc_controller_pb2.Empty(), timeout=TIMEOUT)
        return self.process.wait(timeout=TIMEOUT)

    def close(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=TIMEOUT)


def wait_until(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def zygote_up(directory: str) -> int:
    """The pid of the one zygote serving ``directory``, once its socket takes launchers."""
    path = socket_path(directory, code_key(VERSION, sys.executable))

    def accepting() -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            return probe.connect_ex(path) == 0

    pids = wait_until(lambda: accepting() and zygote_pids(directory), "the zygote's socket")
    assert len(pids) == 1
    return pids[0]


def children(zygote: int) -> list[int]:
    """The zygote's children: providers and the spare waiting for the next launcher."""
    return [int(p) for p in Path(f"/proc/{zygote}/task/{zygote}/children").read_text().split()]


def serving(zygote: int, handshake: str) -> int | None:
    """The child of the zygote listening on the socket that ``handshake`` names, if any."""
    address = handshake.split("|")[3]
    inodes = {line.split()[6] for line in Path("/proc/net/unix").read_text().splitlines()[1:] if line.endswith(address)}
    for pid in children(zygote):
        with contextlib.suppress(FileNotFoundError):
            fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            if any(f"socket:[{inode}]" in fds for inode in inodes):
                return pid
    return None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_warm_start_answers_the_schema_as_a_cold_start_does(start, warm_dir):
    cold = start({"COSTORY_PROVIDER_WARM": "0"})
    first = start()  # no zygote yet: cold, and one is started for next time
    zygote = zygote_up(warm_dir)
    warm = start()

    assert (cold.warm, first.warm, warm.warm) == (False, False, True)
    assert serving(zygote, warm.handshake)
    assert warm.schema() == cold.schema() == first.schema()
    assert len(tf.GetProviderSchema.Response.FromString(warm.schema()).resource_schemas) == len(RESOURCES)
    assert [launched.shut_down() for launched in (cold, first, warm)] == [0, 0, 0]
    wait_until(lambda: serving(zygote, warm.handshake) is None, "the warm provider to be reaped")


def test_warm_off_starts_cold_and_starts_no_zygote(start, warm_dir):
    launched = start({"COSTORY_PROVIDER_WARM": "0"})

    assert not launched.warm
    assert launched.shut_down() == 0
    assert os.listdir(warm_dir) == []


def test_the_launchers_environment_and_directory_reach_the_provider_and_not_the_zygote(start, warm_dir, tmp_path):
    start().shut_down()
    zygote = zygote_up(warm_dir)
    work, temp = tmp_path / "work", Path(warm_dir) / "t"  # short: the provider's socket goes in TMPDIR
    work.mkdir()
    temp.mkdir()
    env = {"COSTORY_TOKEN": "tok-7f3a-secret", "COSTORY_BASE_URL": "ftp://example.com", "TMPDIR": str(temp)}
    launched = start(env, cwd=work)
    schema = provider_schema().provider
    empty = {a.name: None for a in schema.attributes}
    configured = launched.provider.ConfigureProvider(
        tf.ConfigureProvider.Request(config=wire.encode(empty, schema.object_type)), timeout=TIMEOUT
    )
    provider = serving(zygote, launched.handshake)

    assert launched.warm
    assert [(d.summary, d.detail) for d in configured.diagnostics] == [
        (
            "Invalid Control Plane Address",
            "`base_url` is `ftp://example.com`; use `host:port`, `grpc://host:port` or `https://host:port`.",
        )
    ]
    assert Path(launched.handshake.split("|")[3]).parent.parent == temp  # tempfile follows the launcher's TMPDIR
    assert os.readlink(f"/proc/{provider}/cwd") == str(work)
    assert b"tok-7f3a-secret" not in Path(f"/proc/{zygote}/environ").read_bytes()
    assert b"COSTORY_TOKEN" not in Path(f"/proc/{zygote}/environ").read_bytes()
    assert launched.shut_down() == 0


def test_the_provider_exits_when_the_launcher_is_killed(start, warm_dir):
    start().shut_down()
    zygote = zygote_up(warm_dir)
    launched = start()
    provider = serving(zygote, launched.handshake)
    assert launched.warm and provider and alive(provider)

    socket_dir = Path(launched.handshake.split("|")[3]).parent
    assert socket_dir.is_dir()

    launched.process.kill()

    wait_until(lambda: not alive(provider), "the provider to exit", timeout=5)
    assert not socket_dir.exists()
    assert alive(zygote)
    assert launched.process.wait(timeout=TIMEOUT) == -signal.SIGKILL


def test_sigterm_to_the_launcher_stops_the_provider_and_its_status_comes_back(start, warm_dir):
    start().shut_down()
    zygote = zygote_up(warm_dir)
    stopped, killed = start(), start()
    assert stopped.schema() and killed.schema()
    stopped_provider, killed_provider = serving(zygote, stopped.handshake), serving(zygote, killed.handshake)
    assert stopped_provider and killed_provider

    stopped.process.send_signal(signal.SIGTERM)
    os.kill(killed_provider, signal.SIGKILL)

    assert stopped.process.wait(timeout=TIMEOUT) == 0  # the provider stopped as on SIGTERM in a cold start
    assert killed.process.wait(timeout=TIMEOUT) == -signal.SIGKILL  # ended as its provider ended
    assert not alive(stopped_provider)


def test_an_idle_zygote_exits_after_its_timeout(start, warm_dir):
    start({"COSTORY_PROVIDER_WARM_IDLE": "1"}).shut_down()
    zygote = zygote_up(warm_dir)
    path = socket_path(warm_dir, code_key(VERSION, sys.executable))

    wait_until(lambda: not alive(zygote), "the idle zygote to exit", timeout=15)
    assert not os.path.exists(path)


def test_a_stale_socket_falls_back_to_a_cold_start_and_is_replaced(start, warm_dir):
    path = socket_path(warm_dir, code_key(VERSION, sys.executable))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(path)  # left behind: nothing listens on it

    first = start()
    assert not first.warm
    assert len(tf.GetProviderSchema.Response.FromString(first.schema()).resource_schemas) == len(RESOURCES)
    assert first.shut_down() == 0
    zygote_up(warm_dir)
    second = start()
    assert second.warm
    assert second.shut_down() == 0


def test_a_refusing_zygote_leaves_the_start_cold(start, warm_dir):
    """What a launcher sees when the zygote's code changed under it, or the zygote is of another version."""
    path = socket_path(warm_dir, code_key(VERSION, sys.executable))
    received: list[bytes] = []

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)

        def refuse():
            conn, _ = listener.accept()
            with conn:
                data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
                for fd in fds:
                    os.close(fd)
                received.append(data)
                conn.sendall(b"refused: the launcher runs other code\n")

        thread = threading.Thread(target=refuse)
        thread.start()
        launched = start()
        thread.join(timeout=TIMEOUT)

        assert received and received[0][4:].startswith(b"costory-warm-1\0")
        assert not launched.warm
        assert launched.shut_down() == 0


def test_the_zygote_refuses_a_launcher_of_other_code(start, warm_dir):
    start().shut_down()
    zygote = zygote_up(warm_dir)
    before = wait_until(lambda: children(zygote), "the spare")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(socket_path(warm_dir, code_key(VERSION, sys.executable)))
        with open(os.devnull, "rb") as null:
            socket.send_fds(conn, [request("0123456789abcdef", ["launcher"])], [null.fileno()] * 3)
        reply = conn.makefile("rb").readline()

    assert reply == b"refused: the launcher runs other code\n"
    assert children(zygote) == before  # the spare, still waiting
    assert start().warm  # still serving launchers of its own code


def test_same_user_reads_the_peer_uid():
    ours, theirs = socket.socketpair(socket.AF_UNIX)
    with ours, theirs:
        assert same_user(ours)
        assert same_user(ours, uid=os.getuid())
        assert not same_user(ours, uid=os.getuid() + 1)


def test_the_code_key_changes_with_any_loaded_source_file_the_version_or_the_interpreter(tmp_path):
    root = Path(__file__).resolve().parents[2]
    for package in PACKAGES:
        shutil.copytree(root / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_key("1.0", "/usr/bin/python3", str(tmp_path))
    proto = next((tmp_path / "costory_proto").rglob("*_pb2.py"))
    (tmp_path / "provider_shim" / "__pycache__").mkdir()
    (tmp_path / "provider_shim" / "__pycache__" / "x.pyc").write_bytes(b"")

    assert code_key("1.0", "/usr/bin/python3", str(tmp_path)) == before  # bytecode caches do not count
    assert code_key("1.1", "/usr/bin/python3", str(tmp_path)) != before
    assert code_key("1.0", "/usr/local/bin/python3", str(tmp_path)) != before
    os.utime(proto, ns=(proto.stat().st_atime_ns, proto.stat().st_mtime_ns + 1))
    assert code_key("1.0", "/usr/bin/python3", str(tmp_path)) != before


def test_without_the_magic_cookie_the_launcher_says_what_it_is(launcher, warm_dir):
    result = subprocess.run(
        [launcher], capture_output=True, env={"PATH": os.environ["PATH"], "COSTORY_PROVIDER_WARM_DIR": warm_dir}
    )

    assert result.returncode == 1
    assert result.stdout == b""
    assert b"is a Terraform provider plugin" in result.stderr
