"""A real PostgreSQL server for the store's tests, from Debian's `postgresql` package.

One server per test session (`postgres`): initdb into a fresh temporary folder owned by
the `postgres` user (PostgreSQL refuses to run as root; `runuser` drops to it), `trust`
authentication, listening on a free loopback port only, its socket in that folder.
Tests that stop it start it again before they end; it is stopped and its folder removed
when the session ends. Each test gets a database of its own (`pg_url`).

Without PostgreSQL's binaries (/usr/lib/postgresql/*/bin) the tests are skipped with
the reason, except under CI (`CI=true`), where a missing server is a failure.
`.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.http.support import free_port

BINARIES = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"
START_SECONDS = 30
STOP_SECONDS = 30


def _bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder, if any."""
    found = [p for p in Path("/").glob(BINARIES.lstrip("/")) if (p / "initdb").is_file()]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


def _unavailable(reason: str) -> None:
    """Skip, or fail under CI (where the server must be there)."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason} (CI=true: the PostgreSQL tests may not be skipped)")
    pytest.skip(reason)


@dataclass
class Postgres:
    """A PostgreSQL server this test session started, on 127.0.0.1:`port`."""

    bindir: Path
    folder: Path
    port: int
    as_user: tuple[str, ...]  # `runuser -u postgres --` when the tests run as root

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` (trust authentication: no password)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str, timeout: float) -> None:
        command = [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        result = subprocess.run(command, capture_output=True, timeout=timeout + 10, check=False)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            pytest.fail(f"pg_ctl {args[0]} failed: {result.stderr.decode(errors='replace')}{log}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg_ctl(
            "start", "-w", "-t", str(START_SECONDS), "-l", str(self.log), timeout=START_SECONDS
        )

    def stop(self) -> None:
        """Stop the server: open sessions are ended ("fast" shutdown)."""
        self._pg_ctl("stop", "-w", "-t", str(STOP_SECONDS), "-m", "fast", timeout=STOP_SECONDS)

    def is_running(self) -> bool:
        command = [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]
        return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The session's PostgreSQL server (started once, stopped at the end)."""
    bindir = _bindir()
    if bindir is None:
        _unavailable(
            f"PostgreSQL is not installed (no {BINARIES}/initdb): apt-get install postgresql"
        )
    assert bindir is not None
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            _unavailable("running as root needs runuser (util-linux) to start PostgreSQL")
        as_user = ("runuser", "-u", SERVER_USER, "--")
    # /tmp, not pytest's tmp_path: the server's user must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="sclc-cds-pg-"))
    try:
        if as_user:
            shutil.chown(folder, user=SERVER_USER, group=SERVER_USER)
        server = Postgres(bindir=bindir, folder=folder, port=free_port(), as_user=as_user)
        subprocess.run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "--auth=trust",  # local and 127.0.0.1 connections, no password: tests only
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {server.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{folder}'\n"
                "max_connections = 200\n"
            )
        server.start()
        try:
            yield server
        finally:
            if server.is_running():
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: Postgres, request: pytest.FixtureRequest) -> str:
    """The URL of a new database for this test (the server is running)."""
    if not postgres.is_running():
        postgres.start()
    name = f"t{time.monotonic_ns()}_{request.node.name[:30]}".lower()
    return postgres.create_database("".join(c if c.isalnum() else "_" for c in name))
