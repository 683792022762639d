"""A real PostgreSQL on 127.0.0.1 for the tests, as a cluster's MLflow server would use it: a throwaway cluster
(initdb) in a temporary directory, one `postgres` started in the foreground as our child and stopped by its pid.

Debian's `postgresql` package installs the binaries under /usr/lib/postgresql/<major>/bin (not on PATH); the newest
version found there is used, else initdb/postgres from PATH. PostgreSQL refuses to run as root: under root the
cluster belongs to the system user `skeletonllm-pg` (created with `useradd --system` when absent) and initdb and
postgres run as that user (subprocess user=/group=); as any other user they simply run as that user. The directory
lives under the system temporary directory, not pytest's tmp_path, whose root-only parents that user could not
enter. It listens on 127.0.0.1 only (its unix socket in the directory), trusts every local connection (no password)
and runs without fsync: test data, thrown away by `stop`.
"""

from __future__ import annotations

import glob
import importlib.util
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

SYSTEM_USER = "skeletonllm-pg"  # the account the cluster runs as when the tests run as root
SUPERUSER = "skeletonllm"  # the database superuser initdb creates (trust authentication: no password)


class PostgresUnavailable(RuntimeError):
    """This machine cannot run the test database (no PostgreSQL binaries, no psycopg, no user to run it as)."""


def binaries() -> dict[str, str] | None:
    """Paths of initdb and postgres: the newest Debian /usr/lib/postgresql/<major>/bin, else PATH; None when absent."""
    def major(directory: str) -> int:
        name = Path(directory).parent.name
        return int(name) if name.isdigit() else 0

    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True):
        found = {name: os.path.join(directory, name) for name in ("initdb", "postgres")}
        if all(os.access(path, os.X_OK) for path in found.values()):
            return found
    found = {name: shutil.which(name) for name in ("initdb", "postgres")}
    return found if all(found.values()) else None  # type: ignore[return-value]


def why_unavailable() -> str | None:
    """The reason a test database cannot be started here, or None when it can."""
    if binaries() is None:
        return "PostgreSQL binaries (initdb, postgres) not found (apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:  # MLflow's SQLAlchemy store reaches PostgreSQL through it
        return "psycopg is not installed (pip install 'psycopg[binary]', in the test extra)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            if shutil.which("useradd") is None:
                return f"running as root, and no user {SYSTEM_USER} nor useradd to create it"
    return None


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) that initdb and postgres must run as: SYSTEM_USER (created if absent) under root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        created = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                                  "/usr/sbin/nologin", "--user-group", SYSTEM_USER], capture_output=True, text=True)
        if created.returncode != 0 and "already exists" not in created.stderr:  # a parallel session may win
            raise RuntimeError(f"useradd {SYSTEM_USER} failed: {created.stderr.strip()}")
        user = pwd.getpwnam(SYSTEM_USER)
    return user.pw_uid, user.pw_gid


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running test database: where it lives, its port, the database created in it and the postmaster."""

    directory: Path
    port: int
    database: str
    process: subprocess.Popen | None = None
    owner: tuple[int, int] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "postgres.log"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def url(self, database: str | None = None, driver: str = "postgresql+psycopg") -> str:
        """The SQLAlchemy URL of the database (driver "postgresql" gives a plain libpq/psycopg conninfo URL)."""
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database or self.database}"

    def connect(self, database: str | None = None, **kwargs):
        """A psycopg connection to the database over TCP on 127.0.0.1."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=database or self.database,
                               connect_timeout=5, **kwargs)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log, to explain a failure."""
        if not self.log.exists():
            return ""
        return f"--- {self.log}\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _spawn(server: PostgresServer, command: list[str], **kwargs) -> subprocess.Popen:
    """Start command as the cluster's owner, its output appended to the server's log."""
    owner = {} if server.owner is None else {"user": server.owner[0], "group": server.owner[1], "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
    with open(server.log, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=server.directory, start_new_session=True, **owner, **kwargs)


def start(database: str = "mlflow", timeout: float = 60) -> PostgresServer:
    """initdb a new cluster, start postgres on a free port of 127.0.0.1, wait until it accepts connections and
    create `database`. Raises PostgresUnavailable when this machine cannot run it; on a later failure what was
    started is stopped and the directory removed."""
    reason = why_unavailable()
    if reason:
        raise PostgresUnavailable(reason)
    paths = binaries()
    assert paths is not None
    owner = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="skeletonllm-pg-"))
    server = PostgresServer(directory=directory, port=free_port(), database=database, owner=owner)
    try:
        if owner is not None:
            os.chown(directory, *owner)
        initdb = _spawn(server, [paths["initdb"], "--pgdata", str(server.data_dir), "--username", SUPERUSER,
                                 "--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync"])
        if initdb.wait(timeout=timeout) != 0:
            raise RuntimeError(f"initdb exited with {initdb.returncode}\n{server.log_tail()}")
        server.process = _spawn(server, [
            paths["postgres"], "-D", str(server.data_dir), "-p", str(server.port), "-k", str(directory),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=100", "-c", "shared_buffers=32MB",
            "-c", "dynamic_shared_memory_type=mmap"])
        _wait_until_ready(server, timeout)
        with server.connect("postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
    except BaseException:
        stop(server)
        raise
    return server


def _wait_until_ready(server: PostgresServer, timeout: float) -> None:
    """Block until the server answers a query; raises with its log when it exits or does not in time."""
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.process.returncode}\n{server.log_tail()}")
        try:
            with server.connect("postgres") as connection:
                connection.execute("SELECT 1")
            return
        except Exception as exc:  # psycopg.OperationalError while it starts up
            error = exc
            time.sleep(0.2)
    raise RuntimeError(f"postgres not ready after {timeout:.0f} s ({error})\n{server.log_tail()}")


def stop(server: PostgresServer, timeout: float = 30) -> None:
    """Stop the postmaster by its pid: SIGINT (PostgreSQL's fast shutdown: it ends its backends and waits for them),
    then SIGQUIT (immediate shutdown) and SIGKILL should it hang. The cluster's directory is removed, unless the
    postmaster did not end cleanly (exit status other than 0): then it stays, with its log, to be looked at."""
    process = server.process
    if process is not None and process.poll() is None:
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10), (signal.SIGKILL, None)):
            process.send_signal(sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    if process is None or process.returncode == 0:
        shutil.rmtree(server.directory, ignore_errors=True)

