"""The warm provider process: grpc, the tfplugin6 stubs and the provider schema loaded once, one fork per start.

Started by a launcher (``provider_shim.launcher``) that found none, as ``python -I -m provider_shim.zygote
DIRECTORY VERSION PYTHON``: detached, with no credentials in its environment. It serves a unix socket in
DIRECTORY named by the code key, so a launcher of other code never reaches it. Each accepted launcher (same
uid, checked with SO_PEERCRED) sends its environment, working directory, argv and stdio; a forked child takes
them on and serves that Terraform run exactly as a cold start would, writing the handshake to the launcher's
stdout. The zygote relays the child's exit status to the launcher; the child exits when the launcher's
connection closes, so it never outlives the process Terraform started.

To take grpc's own start off the launcher's wait, one child is forked ahead (the spare) with its gRPC server
already listening on a fresh socket and certificate; it serves the next launcher whose environment agrees with
the zygote's on what that start read (TMPDIR, GRPC_*, proxies), and a child is forked for any other launcher.

Forking is safe because the zygote never starts grpc's core (no server, no channel: it has no threads, which
``Zygote.run`` checks) and takes no locks another thread could hold; each child initialises grpc afresh. The
zygote exits after an idle time (``COSTORY_PROVIDER_WARM_IDLE``, default 600 s), on SIGTERM, or once its code
changes, always after the providers it started have ended.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import select
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from provider_shim import plugin
from provider_shim.launcher import PROTOCOL, WARM_IDLE, code_key, lock_path, private_dir, same_user, socket_path

CHECK_SECONDS = 2.0
"""How often an idle zygote looks for changed code."""
REQUEST_TIMEOUT_SECONDS = 5.0
SPARE_RETRY_SECONDS = 5.0
MAX_REQUEST_BYTES = 1 << 20


@dataclass(frozen=True)
class Start:
    """One launcher's request: what its provider process would have inherited."""

    key: str
    cwd: bytes
    umask: int
    argv: list[bytes]
    environ: dict[bytes, bytes]


def parse_request(payload: bytes) -> Start:
    """The inverse of ``launcher.request`` (without its length prefix); ValueError if malformed."""
    fields = payload.split(b"\0")
    if len(fields) < 5 or fields[0] != PROTOCOL:
        raise ValueError("not a costory launcher request")
    argc = int(fields[4])
    argv, variables = fields[5 : 5 + argc], fields[5 + argc :]
    if len(argv) != argc or any(b"=" not in v for v in variables):
        raise ValueError("malformed launcher request")
    environ = dict(v.split(b"=", 1) for v in variables)
    return Start(fields[1].decode(), fields[2], int(fields[3]), argv, environ)


def receive(conn: socket.socket, count: int = 3) -> tuple[bytes, list[int]]:
    """Read one length-prefixed message and the ``count`` file descriptors sent with it (a launcher's request
    carries its stdin, stdout and stderr)."""
    data, fds, _flags, _address = socket.recv_fds(conn, 65536, count)
    try:
        if len(fds) != count or len(data) < 4:
            raise ValueError("not a launcher request")
        size = int.from_bytes(data[:4], "big")
        if size > MAX_REQUEST_BYTES:
            raise ValueError("launcher request too large")
        message = bytearray(data)
        while len(message) < 4 + size:
            chunk = conn.recv(min(65536, 4 + size - len(message)))
            if not chunk:
                raise ValueError("launcher request cut short")
            message += chunk
        return bytes(message), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


_LATCHED = {b"tmpdir", b"http_proxy", b"https_proxy", b"no_proxy", b"grpc_proxy", b"no_grpc_proxy"}
"""Read while a listener starts (its socket's directory; grpc's configuration and proxies): a spare listener,
started in the zygote's environment, serves only a launcher that has the same values."""


def _latched(environ: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {k: v for k, v in environ.items() if k.startswith(b"GRPC_") or k.lower() in _LATCHED}


def _preload():
    """Everything a provider process loads for a plan, and the answers every start gives, built once."""
    from concurrent.futures import thread  # noqa: F401

    # grpc loaded, not initialised (no server, no channel); it imports these two on first use.
    from grpc import _channel, _server  # noqa: F401

    from costory_proto import tfplugin6_pb2_grpc  # noqa: F401
    from costory_proto.plugin import grpc_controller_pb2_grpc  # noqa: F401
    from provider_shim import client, resources  # noqa: F401
    from provider_shim.server import ProviderService

    plugin.make_certificate()  # loads cryptography: each start gets its key pair from it
    service = ProviderService()  # reads os.environ when called: each child fills it in before serving
    service.prepare()
    return service


class Zygote:
    """1. Take the code key's lock (one zygote per key), load everything, check no thread was started.
    2. Listen on the key's socket; keep one spare child with a listener up, waiting for a launcher.
    3. Per launcher: check its uid and request, hand it to the spare (or, when the spare cannot serve its
       environment, to a child forked for it), and relay that child's exit status when it ends.
    4. Stop taking launchers when idle, told to (SIGTERM) or when the code changes; exit once the children
       have ended."""

    def __init__(self, directory: str, version: str, python: str, idle_seconds: float):
        self.directory, self.version, self.python = directory, version, python
        self.idle_seconds = idle_seconds
        self.key = code_key(version, python)
        self.path = socket_path(directory, self.key)
        self.children: dict[int, socket.socket] = {}
        """Providers serving a launcher, with the launcher's connection."""
        self.spare: tuple[int, socket.socket] | None = None
        self.retired: set[int] = set()
        """Spares no longer wanted, to reap."""
        self.spare_after = 0.0
        """When to fork a spare again after one failed."""
        self.listener: socket.socket | None = None
        self.stopping = False

    def run(self) -> int:
        private_dir(self.directory)
        self.lock = os.open(lock_path(self.directory, self.key), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another zygote of this code is up or starting
        os.ftruncate(self.lock, 0)
        os.write(self.lock, b"%d\n" % os.getpid())

        self.service = _preload()
        gc.freeze()  # what is loaded stays shared with the children: their collections neither scan nor touch it
        if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
            sys.stderr.write("costory provider zygote: threads were started while loading; forking is unsafe\n")
            return 1

        self.wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake[1])
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

        # Bound and listening under another name first, so the path never names a socket that refuses launchers;
        # the rename replaces a stale one (we hold the lock, so no live zygote of this key serves it).
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        pending = f"{self.path}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pending)
        listener.bind(pending)
        os.chmod(pending, 0o600)
        listener.listen(64)
        os.rename(pending, self.path)
        self.listener = listener
        self._fork_spare()
        try:
            self._loop()
        finally:
            self._close_listener()
        return 0

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _close_listener(self) -> None:
        """Take no more launchers, and let the next zygote start while the running providers finish."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self.lock)
        if self.spare is not None:
            pid, pair = self.spare
            pair.close()  # the spare exits when this closes
            self.retired.add(pid)
            self.spare = None

    def _loop(self) -> None:
        last_active = time.monotonic()
        next_check = last_active + CHECK_SECONDS
        while True:
            now = time.monotonic()
            if self.listener is not None and (
                self.stopping or (not self.children and now - last_active >= self.idle_seconds)
            ):
                self._close_listener()  # no new starts; the running ones still get their status
            if now >= next_check:
                next_check = now + CHECK_SECONDS
                if self.listener is not None and code_key(self.version, self.python) != self.key:
                    self._close_listener()
            if self.listener is None and not self.children and not self.retired:
                return
            timeout = min(next_check - now, max(0.0, last_active + self.idle_seconds - now))
            readable = [self.wake[0]] + ([self.listener] if self.listener is not None else [])
            ready, _, _ = select.select(readable, [], [], max(timeout, 0.01))
            if self.wake[0] in ready:
                while True:
                    try:
                        if not os.read(self.wake[0], 512):
                            break
                    except BlockingIOError:
                        break
            self._reap()
            if self.listener is not None and self.listener in ready:
                self._accept(self.listener)
            if self.listener is not None and self.spare is None and time.monotonic() >= self.spare_after:
                self._fork_spare()
            if self.children or self.listener in ready:
                last_active = time.monotonic()

    def _reap(self) -> None:
        waited = [*self.children, *self.retired] + ([self.spare[0]] if self.spare else [])
        for pid in waited:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 1 << 8
            if not done:
                continue
            if pid in self.children:
                conn = self.children.pop(pid)
                if os.WIFSIGNALED(status):
                    message = b"killed %d\n" % os.WTERMSIG(status)
                else:
                    message = b"exit %d\n" % os.waitstatus_to_exitcode(status)
                with contextlib.suppress(OSError):  # the launcher may be gone already
                    conn.sendall(message)
                conn.close()
            elif self.spare is not None and pid == self.spare[0]:
                self.spare[1].close()  # it failed to start: starts meanwhile fork a child of their own
                self.spare = None
                self.spare_after = time.monotonic() + SPARE_RETRY_SECONDS
            self.retired.discard(pid)

    def _accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        try:
            conn.settimeout(REQUEST_TIMEOUT_SECONDS)
            if not same_user(conn):
                conn.close()
                return
            message, fds = receive(conn)
        except (OSError, ValueError):
            conn.close()
            return
        try:
            start = parse_request(message[4:])
        except ValueError:
            start = None
        refusal = None
        if start is None:
            refusal = b"refused: not a launcher request\n"
        elif code_key(self.version, self.python) != self.key:
            refusal = b"refused: the provider's code changed since this zygote started\n"
            self._close_listener()
        elif start.key != self.key:
            refusal = b"refused: the launcher runs other code\n"
        elif not os.path.isdir(start.cwd):
            refusal = b"refused: the working directory is gone\n"
        if refusal is not None or start is None:
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):
                conn.sendall(refusal or b"refused\n")
            conn.close()
            return
        conn.settimeout(None)
        if self.spare is not None and _latched(start.environ) == _latched(dict(os.environb)):
            pid, pair = self.spare
            self.spare = None
            try:
                socket.send_fds(pair, [message], [conn.fileno(), *fds])
            except OSError:
                self.retired.add(pid)
                pid = self._fork_for(conn, start, fds)
            pair.close()
        else:
            pid = self._fork_for(conn, start, fds)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn

    def _fork(self, child) -> int:
        """Fork; the child closes what only the zygote uses, runs ``child`` and exits with its status."""
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            return pid
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            os.close(self.wake[0])
            os.close(self.wake[1])
            if self.listener is not None:
                self.listener.close()
                os.close(self.lock)
            for conn in self.children.values():
                conn.close()
            if self.spare is not None:
                self.spare[1].close()
            status = child()
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)

    def _fork_spare(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        certificate = plugin.make_certificate()  # in-process: a fraction of a millisecond, no openssl process

        def spare() -> int:
            ours.close()
            listener = plugin.Listener(certificate)
            try:
                message, fds = receive(theirs, 4)
            except (OSError, ValueError):  # the zygote no longer needs us
                listener.close()
                return 0
            theirs.close()
            conn = socket.socket(fileno=fds[0])
            return _take_on(conn, parse_request(message[4:]), fds[1:], self.service, listener, None)

        self.spare = (self._fork(spare), ours)
        theirs.close()

    def _fork_for(self, conn: socket.socket, start: Start, fds: list[int]) -> int:
        """A child that starts its listener in the launcher's environment."""
        certificate = plugin.make_certificate()  # here, so no two children share a key
        return self._fork(lambda: _take_on(conn, start, fds, self.service, None, certificate))


def _take_on(
    conn: socket.socket,
    start: Start,
    fds: list[int],
    service,
    listener: plugin.Listener | None,
    certificate: tuple[bytes, bytes] | None,
) -> int:
    """In a forked child: take on the launcher's process state, then serve as a cold start would."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(start.cwd)
    os.umask(start.umask)
    os.environb.clear()
    os.environb.update(start.environ)
    import tempfile

    tempfile.tempdir = None  # chosen again from the launcher's TMPDIR
    sys.argv = [os.fsdecode(a) for a in start.argv]
    if listener is None:
        listener = plugin.Listener(certificate)
    conn.sendall(b"started %d\n" % os.getpid())
    threading.Thread(target=_watch_launcher, args=(conn, listener.socket_dir), daemon=True).start()
    return plugin.serve(service=service, listener=listener)


def _watch_launcher(conn: socket.socket, socket_dir: str) -> None:
    """In a provider child: act on the signals the launcher forwards; exit at once when it is gone."""
    buffer = b""
    while True:
        try:
            data = conn.recv(256)
        except OSError:
            data = b""
        if not data:  # Terraform ended the launcher: this provider must not outlive it
            shutil.rmtree(socket_dir, ignore_errors=True)
            os._exit(1)
        buffer += data
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            verb, _, number = line.partition(b" ")
            if verb == b"signal" and number.isdigit():
                os.kill(os.getpid(), int(number))


def stop_zygotes(directory: str, timeout: float = 10.0) -> None:
    """SIGTERM every zygote with a lock file in ``directory`` and wait for each to exit (tests, benchmarks)."""
    for pid in zygote_pids(directory):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def zygote_pids(directory: str) -> list[int]:
    """The zygotes running with a lock file in ``directory`` (a lock file nobody holds names no process)."""
    pids = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if not name.endswith(".lock"):
            continue
        try:
            with open(os.path.join(directory, name), "rb") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    pids.append(int(lock.read().strip()))
        except (OSError, ValueError):
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def main(argv: list[str]) -> int:
    directory, version, python = argv
    idle = float(os.environ.get(WARM_IDLE) or 600)
    os.chdir("/")  # holds no launcher's directory; each child changes to its own
    return Zygote(directory, version, python, idle).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
