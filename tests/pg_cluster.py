"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary directory, ``pg_ctl start`` on a
free loopback port with trust authentication, one database per caller.

Run as root (CI and the dev containers are), ``initdb`` and ``postgres`` refuse to start. The server
binaries are then run as an unprivileged user (``postgres`` if the system has one, else ``nobody``),
through ``subprocess``'s own ``user=``/``group=`` switch, so no ``su``/``runuser``/``sudo`` is needed.
That user cannot enter pytest's ``/tmp/pytest-of-root`` (mode 0700), so the cluster then lives in its
own directory under the system temp dir, owned by that user and removed by ``stop()``.

Whoever calls ``start_postgres`` calls ``stop()``; it stops the server even when starting failed
half-way.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import psycopg

_BINARIES = ("initdb", "pg_ctl", "postgres")
_UNPRIVILEGED_USERS = ("postgres", "nobody")
_INITDB_OPTIONS = ("-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server would not start."""


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: from PATH, else the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian's layout, not on PATH by default)."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(
        (Path(path) for path in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda path: _version_key(path.parent.name),
        reverse=True,
    )
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in _BINARIES):
            return bindir
    raise PostgresUnavailable(
        "the PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH nor under "
        "/usr/lib/postgresql/*/bin; install them (Debian: `apt-get install postgresql`) or put their "
        "directory on PATH"
    )


@dataclass
class PostgresCluster:
    bindir: Path
    base: Path
    """Holds ``data/`` (the cluster), the Unix socket and ``postgres.log``."""
    port: int
    user: pwd.struct_passwd | None
    """The unprivileged user the server runs as, when we are root."""
    owns_base: bool
    """``base`` was created here and is removed by ``stop()``."""
    database: str = "costory"
    _stopped: bool = field(default=False, repr=False)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its SQLAlchemy URL."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def stop(self) -> None:
        """``pg_ctl stop -m fast``; if that fails, SIGKILL the postmaster. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data / "postmaster.pid").exists():
                result = _run(
                    self, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", check=False
                )
                if result.returncode != 0:
                    _kill_postmaster(self.data)
        finally:
            if self.owns_base:
                shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def start_postgres(tmp_dir: Path, database: str = "costory") -> PostgresCluster:
    """initdb + pg_ctl start on a free 127.0.0.1 port (trust auth, user ``postgres``), then create
    ``database``. Raises ``PostgresUnavailable`` with the server log if anything fails."""
    bindir = find_bindir()
    user = _unprivileged_user() if os.geteuid() == 0 else None
    if user is None:
        base, owns_base = Path(tmp_dir), False
        base.mkdir(parents=True, exist_ok=True)
    else:
        base, owns_base = Path(tempfile.mkdtemp(prefix="costory-pg-")), True
        os.chown(base, user.pw_uid, user.pw_gid)
    cluster = PostgresCluster(bindir, base, 0, user, owns_base, database)
    try:
        _run(cluster, "initdb", "-D", str(cluster.data), *_INITDB_OPTIONS)
        for attempt in range(3):  # another process may take the free port before the server binds it
            cluster.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} -c unix_socket_directories={base} "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            )
            server = ("-D", str(cluster.data), "-o", options, "-l", str(cluster.log_path))
            started = _run(cluster, "pg_ctl", *server, "-w", "-t", "60", "start", check=False)
            if started.returncode == 0:
                break
            if attempt == 2:
                raise PostgresUnavailable(
                    f"pg_ctl start failed:\n{started.stdout}\n{_tail(cluster.log_path)}"
                )
        cluster.create_database(database)
    except BaseException as error:
        cluster.stop()
        if isinstance(error, subprocess.CalledProcessError):
            raise PostgresUnavailable(
                f"{error.cmd[0]} failed ({error.returncode}):\n{error.stdout}\n{_tail(cluster.log_path)}"
            ) from error
        raise
    return cluster


def _run(
    cluster: PostgresCluster, binary: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a server binary, as the unprivileged user when we are root."""
    as_user = {}
    if cluster.user is not None:
        as_user = {"user": cluster.user.pw_uid, "group": cluster.user.pw_gid, "extra_groups": []}
    return subprocess.run(
        [str(cluster.bindir / binary), *args],
        cwd=cluster.base,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        check=check,
        **as_user,
    )


def _unprivileged_user() -> pwd.struct_passwd:
    for name in _UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable(
        "running as root, and PostgreSQL refuses to run as root; no unprivileged user "
        f"({', '.join(_UNPRIVILEGED_USERS)}) exists to run it as"
    )


def _kill_postmaster(data: Path) -> None:
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
