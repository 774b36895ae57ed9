"""What the simulated systems of record remember, kept in a SQLite file across restarts.

A real gateway or ERP does not forget a capture because someone restarted a process: a
store that audits its paid orders against the gateway must find the captures the last
run made. So the dependencies that record something (payment, ERP) write each change
through to one SQLite file (`--state PATH`; the stack keeps it beside its database as
`$PEAKSTORE_VAR_DIR/simulator-state.sqlite3`) and read it back when they start. Without
a path the state lives in memory for the process's lifetime, as tests and one-off runs
want.

One table of JSON records, keyed by dependency, kind and key, in the order they were
first written; a dependency keeps its own in-memory view for answering and uses this
only to persist and to reload. WAL mode and `synchronous=NORMAL`: a write costs a
commit without an fsync, and survives the process (not a power cut), which is what a
simulator needs. `--reset-state` or `POST /_state/reset` forgets everything.

Why not JSON written atomically: every capture would rewrite the whole file, and a
flash sale makes thousands of them.
"""

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dependency TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (dependency, kind, key)
)
"""


class SimState:
    """Durable records for the simulated dependencies; safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:",
            check_same_thread=False,
            isolation_level=None,  # autocommit: each write is its own transaction
        )
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def records(self, dependency: str, kind: str) -> list[tuple[str, Any]]:
        """Every (key, value) of one kind, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM records WHERE dependency = ? AND kind = ? ORDER BY seq",
                (dependency, kind),
            ).fetchall()
        return [(key, json.loads(value)) for key, value in rows]

    def put(self, dependency: str, kind: str, key: str, value: Any) -> None:
        """Insert or replace one record; a replaced one keeps its place in the order."""
        with self._lock:
            self._db.execute(
                "INSERT INTO records (dependency, kind, key, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (dependency, kind, key) DO UPDATE SET value = excluded.value",
                (dependency, kind, key, json.dumps(value)),
            )

    def drop(self, dependency: str, kind: str, key: str) -> None:
        """Delete one record (drift losing a capture or a booking)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM records WHERE dependency = ? AND kind = ? AND key = ?",
                (dependency, kind, key),
            )

    def forget(self, dependency: str | None = None) -> None:
        """Delete one dependency's records, or everyone's."""
        with self._lock:
            if dependency is None:
                self._db.execute("DELETE FROM records")
            else:
                self._db.execute("DELETE FROM records WHERE dependency = ?", (dependency,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
