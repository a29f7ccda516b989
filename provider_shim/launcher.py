"""The executable Terraform starts: hand the start to a warm provider process when one is up.

Terraform starts the provider three times per plan, and a fresh interpreter importing grpc and the tfplugin6
stubs costs most of that plan. A per-user zygote (``provider_shim.zygote``) keeps them loaded and forks one
provider per start. This module runs in a ``python -I -S`` launcher, so it imports only the lightest standard
modules before the handshake: it passes the zygote its environment, working directory and stdio, then waits,
forwarding signals and relaying the provider's exit status. No zygote, or anything unexpected, and it starts
the provider cold (``python -I -m provider_shim``, as before) and starts a zygote in the background for next
time. ``COSTORY_PROVIDER_WARM=0`` keeps to the cold path.
"""

from __future__ import annotations

import _socket  # the socket and signal modules import enum and selectors: ~10 ms a start
import os
import sys
import zlib

TYPE_CHECKING = False  # typing itself costs the launcher milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

WARM = "COSTORY_PROVIDER_WARM"
"""``0`` disables warm starts."""
WARM_DIR = "COSTORY_PROVIDER_WARM_DIR"
"""Where zygote sockets live (default ``$XDG_RUNTIME_DIR/costory-provider`` or ``/tmp/costory-provider-<uid>``)."""
WARM_IDLE = "COSTORY_PROVIDER_WARM_IDLE"
"""Seconds an idle zygote waits before exiting (default 600)."""

PROTOCOL = b"costory-warm-1"
PACKAGES = ("provider_shim", "costory_proto", "costory_schema")
"""What the zygote has loaded: a change to any of their files makes it stale."""
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ZYGOTE_ENV = ("PATH", "HOME", "LANG", "TMPDIR", "XDG_RUNTIME_DIR")
"""The zygote's environment (with LC_* and GRPC_*): enough to run, and no credentials (each provider gets its
launcher's)."""


def socket_dir(environ: Mapping[str, str]) -> str:
    if environ.get(WARM_DIR):
        return environ[WARM_DIR]
    if environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(environ["XDG_RUNTIME_DIR"], "costory-provider")
    return f"/tmp/costory-provider-{os.getuid()}"


def private_dir(path: str) -> None:
    """Create ``path`` (0700) if missing; raise unless it is a real directory of this user that nobody else may
    enter, since whoever can reach a zygote's socket can run code as this user."""
    os.makedirs(path, 0o700, exist_ok=True)
    st = os.lstat(path)
    if (st.st_mode & 0o170000) != 0o040000 or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{path} is not a private directory of uid {os.getuid()}")


def code_key(version: str, python: str, root: str = ROOT) -> str:
    """Names a zygote: the package version, the interpreter and every loaded source file's mtime and size."""
    parts = [version, python]
    for package in PACKAGES:
        for directory, subdirectories, files in os.walk(os.path.join(root, package)):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(directory, name))
                    parts.append(f"{directory}/{name} {st.st_mtime_ns} {st.st_size}")
    material = "\n".join(parts).encode()
    return f"{zlib.crc32(material):08x}{zlib.adler32(material):08x}"


def socket_path(directory: str, key: str) -> str:
    return os.path.join(directory, f"{key}.sock")


def lock_path(directory: str, key: str) -> str:
    return os.path.join(directory, f"{key}.lock")


def same_user(sock: _socket.socket, uid: int | None = None) -> bool:
    """Whether the process at the other end of unix socket ``sock`` runs as ``uid`` (default: ours)."""
    credentials = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # struct ucred: pid, uid, gid
    return int.from_bytes(credentials[4:8], sys.byteorder) == (os.getuid() if uid is None else uid)


def request(key: str, argv: list[str]) -> bytes:
    """What a launcher sends the zygote (its stdin, stdout and stderr travel alongside): a length, then
    NUL-separated protocol, key, working directory, umask, argument count, arguments and ``NAME=value``s."""
    umask = os.umask(0)
    os.umask(umask)
    fields = [PROTOCOL, key.encode(), os.getcwdb(), b"%d" % umask, b"%d" % len(argv)]
    fields += [os.fsencode(a) for a in argv]
    fields += [name + b"=" + value for name, value in os.environb.items()]
    payload = b"\0".join(fields)
    return len(payload).to_bytes(4, "big") + payload


def main(python: str, version: str) -> None:
    """Entry point of the launcher script (see ``script``)."""
    if os.environ.get(WARM) != "0" and os.environ.get(MAGIC_COOKIE_KEY) == MAGIC_COOKIE_VALUE:
        try:
            started = _warm(python, version)
        except OSError:
            started = None  # nothing reached Terraform yet: start cold
        if started is not None:
            _relay(started)
    os.execv(python, [python, "-I", "-m", "provider_shim", *sys.argv[1:]])


def _warm(python: str, version: str) -> _socket.socket | None:
    """The connection to the provider a zygote started for us, or None (a zygote is started for next time)."""
    directory = socket_dir(os.environ)
    private_dir(directory)
    key = code_key(version, python)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(socket_path(directory, key))
    except OSError:
        sock.close()
        _start_zygote(python, version, directory, key)
        return None
    try:
        if not same_user(sock):
            sock.close()
            return None
        message = request(key, sys.argv)
        stdio = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
        sent = sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, stdio)])
        sock.sendall(message[sent:])
        sock.settimeout(30)
        reply = _line(sock)
    except OSError:
        sock.close()
        raise
    if reply is None or not reply.startswith(b"started "):
        sock.close()  # refused (e.g. the code changed under it) or gone
        return None
    sock.settimeout(None)
    return sock


def _line(sock: _socket.socket) -> bytes | None:
    """One line from ``sock`` (reading one byte at a time, so nothing after it is consumed), or None at EOF."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            return None
        line += byte
    return bytes(line[:-1])


def _relay(sock: _socket.socket) -> None:
    """Wait for the provider: forward SIGTERM/SIGINT/SIGHUP to it and end as it ended. Never returns: once a
    provider has started, a cold start would print a second handshake."""
    import _signal as signal  # type: ignore[import-not-found]  # no stub; the signal module costs ~5 ms

    def forward(signum, frame):
        try:  # noqa: SIM105
            sock.sendall(b"signal %d\n" % signum)
        except OSError:
            pass

    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, forward)
        verb, _, number = (_line(sock) or b"").partition(b" ")
        if verb == b"exit" and number.isdigit():
            os._exit(int(number))
        if verb == b"killed" and number.isdigit():
            if int(number) not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(int(number), signal.SIG_DFL)
            os.kill(os.getpid(), int(number))
        os.write(2, b"costory provider: the warm provider process ended without an exit status\n")
    finally:
        os._exit(1)


def _start_zygote(python: str, version: str, directory: str, key: str) -> None:
    """Start a zygote for the next start, detached (double fork, own session, stdio on /dev/null), unless one
    holds the lock already (it is loading)."""
    import fcntl

    lock = os.open(lock_path(directory, key), os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return
    finally:
        os.close(lock)
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _ZYGOTE_ENV or name.startswith(("LC_", "GRPC_", WARM_DIR, WARM_IDLE))
    }
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, 65536)
                os.execve(python, [python, "-I", "-m", "provider_shim.zygote", directory, version, python], env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def script(python: str, version: str) -> str:
    """The launcher file the provider mirror holds: the interpreter without site-packages or environment,
    this package's directory on its path, and ``main``."""
    return (
        f"#!{python} -IS\n"
        "import sys\n"
        f"sys.path.append({ROOT!r})\n"
        "from provider_shim.launcher import main\n"
        f"main({python!r}, {version!r})\n"
    )


if __name__ == "__main__":
    # `python -m provider_shim.launcher PATH`: write the launcher for this interpreter to PATH (make provider).
    from importlib.metadata import version as installed_version

    with open(sys.argv[1], "w") as launcher:
        launcher.write(script(sys.executable, installed_version("costory-selfhosted")))
    os.chmod(sys.argv[1], 0o755)
