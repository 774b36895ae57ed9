"""A throwaway PostgreSQL primary and a streaming standby of it (replica tests, bench_replica).

Each server has its own data directory under a temporary folder and its own free
loopback port; the shared server on 5432 is never touched. Debian's tools build them:
`initdb` for the primary, `pg_basebackup -R` for the standby (which writes
`standby.signal` and the primary's address), `pg_ctl` to start and stop both. PostgreSQL
refuses to run as root, so as root (CI, these machines) every tool runs as the
`postgres` OS user and the folder belongs to it.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from devstack.processes import free_port

DATABASE = "peakstore"
START_TIMEOUT_S = 60


def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL bin folder with the tools the pair needs, or None."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        path = Path(candidate)
        if all((path / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")):
            return path
    if found := shutil.which("pg_basebackup"):
        path = Path(found).parent
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def missing_reason() -> str | None:
    """Why a pair cannot be started here, or None when it can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server tools (initdb, pg_basebackup) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres OS user to run PostgreSQL as"
    return None


@dataclass
class PostgresPair:
    """A primary and its streaming standby; `start()`, then `stop()`."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="peakstore-pgpair-")))
    primary_port: int = field(default_factory=free_port)
    standby_port: int = field(default_factory=free_port)

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def standby_dir(self) -> Path:
        return self.root / "standby"

    def url(self, port: int, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{database}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port)

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")

    def _server_options(self, port: int) -> str:
        # fsync off: a throwaway cluster never needs to survive a crash of the machine.
        return (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on "
            "-c max_standby_streaming_delay=-1"
        )

    def _pg_ctl_start(self, data_dir: Path, port: int) -> None:
        log = self.root / f"{data_dir.name}.log"
        self._run(
            "pg_ctl", "-D", str(data_dir), "-l", str(log), "-o", self._server_options(port),
            "-w", "-t", str(START_TIMEOUT_S), "start",
        )  # fmt: skip

    def start(self) -> "PostgresPair":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.primary_dir), "--auth=trust", "-U", "postgres", "-E", "UTF8"
        )  # fmt: skip
        self._pg_ctl_start(self.primary_dir, self.primary_port)
        with psycopg.connect(self.url(self.primary_port, "postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
            "-D", str(self.standby_dir), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        self._pg_ctl_start(self.standby_dir, self.standby_port)
        self.wait_streaming()
        return self

    def wait_streaming(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the standby is in recovery and the primary streams to it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.primary_url, autocommit=True) as primary:
                    row = primary.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
                with psycopg.connect(self.standby_url, autocommit=True) as standby:
                    recovery = standby.execute("SELECT pg_is_in_recovery()").fetchone()
                if row and row[0] >= 1 and recovery and recovery[0]:
                    return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the standby did not start streaming in {timeout}s")
            time.sleep(0.2)

    def wait_caught_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written now."""
        with psycopg.connect(self.primary_url, autocommit=True) as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert row is not None  # one row, always
        target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.standby_url, autocommit=True) as standby:
            while True:
                replayed = standby.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [str(target)]
                ).fetchone()
                if replayed is not None and replayed[0]:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the standby did not replay {target} in {timeout}s")
                time.sleep(0.05)

    def replay_pause(self) -> None:
        with psycopg.connect(self.standby_url, autocommit=True) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")

    def replay_resume(self) -> None:
        with psycopg.connect(self.standby_url, autocommit=True) as standby:
            standby.execute("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        for data_dir in (self.standby_dir, self.primary_dir):
            if (data_dir / "postmaster.pid").exists():
                # Already gone or not: the folder is removed below either way.
                with suppress(RuntimeError):
                    self._run("pg_ctl", "-D", str(data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
