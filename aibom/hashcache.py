"""A persistent SHA-256 cache keyed by (device, inode, size, mtime_ns, ctime_ns), stored in SQLite.

ctime is in the key because anyone who can write a file can also set its mtime back (`touch -r`);
the kernel sets ctime on every change and no user call can restore it.

Safe for concurrent runs (SQLite locking, short transactions) and against corruption: a database that
fails to open or check is deleted and rebuilt, and a value that is not a SHA-256 is never returned.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import platformdirs

from .sniff import Key

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
FILENAME = "hashes-v2.sqlite3"
_BUSY_SECONDS = 30.0
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (dev, ino, size, mtime_ns, ctime_ns)
) WITHOUT ROWID
"""


def default_cache_dir() -> Path:
    """`$AIBOM_CACHE_DIR`, else the platform's user cache folder for aibom."""
    override = os.environ.get("AIBOM_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("aibom", appauthor=False))


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _is_busy(exc: sqlite3.Error) -> bool:
    return _code(exc) in _BUSY_CODES or "locked" in str(exc) or "busy" in str(exc)


def _is_corruption(exc: sqlite3.Error) -> bool:
    """A damaged or foreign file (or a failed integrity check), as opposed to a lock or an I/O problem."""
    code = _code(exc)
    if code is not None:
        return code in _CORRUPT_CODES
    return not isinstance(exc, sqlite3.OperationalError) or str(exc).startswith("quick_check")


def scope_of(root: str) -> str:
    """How the per-root caches name a scanned root: a digest of its real path (any bytes)."""
    return hashlib.sha256(os.fsencode(root)).hexdigest()


class HashCache:
    """Look-ups go to SQLite; new hashes are buffered and written in one transaction by `flush`."""

    filename = FILENAME
    schema = _SCHEMA
    label = "hash cache"  # how warnings name it

    def __init__(self, folder: Path | None) -> None:
        self.path = folder / self.filename if folder else None
        self.warning: str | None = None
        self._pending: dict[Key, str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            self._db = self._open()

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(self.schema)
            row = db.execute("PRAGMA quick_check").fetchone()
            if not row or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
        except BaseException:
            db.close()
            raise
        return db

    def _connect_patiently(self) -> sqlite3.Connection:
        """Connect, retrying while another process holds a lock SQLite will not wait for (e.g. while it
        creates the database or switches it to WAL): busy is not corruption."""
        deadline = time.monotonic() + _BUSY_SECONDS
        delay = 0.005
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                if _is_corruption(exc) or not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _open(self) -> sqlite3.Connection | None:
        try:
            return self._connect_patiently()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                self.warning = f"{self.label} disabled: {exc}"
                return None
            self._discard()
        except OSError as exc:
            self.warning = f"{self.label} disabled: {exc}"
            return None
        try:
            db = self._connect_patiently()
            self.warning = f"{self.label} was corrupt and has been rebuilt"
            return db
        except (sqlite3.DatabaseError, OSError) as exc:
            self.warning = f"{self.label} disabled: {exc}"
            return None

    def _discard(self) -> None:
        assert self.path is not None
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def get(self, key: Key) -> str | None:
        if self._db is None:
            return None
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT sha256 FROM files WHERE dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?", key
                ).fetchone()
            except sqlite3.DatabaseError:
                return None
        value = row[0] if row else None
        return value if isinstance(value, str) and _HEX64.match(value) else None

    def put(self, key: Key, sha256: str) -> None:
        if self._db is not None:
            with self._lock:
                self._pending[key] = sha256

    def flush(self) -> None:
        """Write buffered hashes; a failure loses only cache entries, never scan results."""
        if self._db is None or not self._pending:
            return
        with self._lock:
            rows = [(*k, v) for k, v in self._pending.items()]
            self._pending.clear()
            self._write([("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", rows)])

    def _write(self, statements: list[tuple[str, list[tuple[object, ...]]]]) -> None:
        """Run each statement over its rows in one transaction; a failure loses only cache entries (a warning)."""
        assert self._db is not None
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, rows in statements:
                self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except (sqlite3.DatabaseError, ValueError) as exc:
            self.warning = f"{self.label} not updated: {exc}"
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("ROLLBACK")

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None
