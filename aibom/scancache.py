"""A persistent cache of what scanning each file produced, so a warm rescan skips sniff, scan and hash.

One SQLite table next to the hash cache, one row per (scanned root, relative path). A row holds the file's
stat key (dev, ino, size, mtime_ns, ctime_ns; ctime because `touch -r` can restore an mtime but never a
ctime), the run context (aibom version and a fingerprint of its code and data, so an upgrade invalidates
everything) and the scan result as JSON, with the stat keys of any other file the scanner consulted
(an included requirements file, `.dvc/config`, a path a script names: see `aibom.readdeps`).

A run reads the rows of its root in one query, in path order beside the walked files, answers unchanged
files from them, and writes back only the rows that changed. A row that does not decode exactly is a miss,
never an error and never output.
Locking, busy handling and rebuilding a corrupt database are the hash cache's (`HashCache`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import __version__, readdeps, scanrecord
from .hashcache import HashCache, scope_of
from .resources import data_dir
from .scanners.base import ScanOutput
from .sniff import Key
from .walk import FileEntry

FILENAME = "scans-v1.sqlite3"
_NOTHING = ScanOutput()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    scope TEXT NOT NULL, relpath TEXT NOT NULL, context TEXT NOT NULL, statkey TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (scope, relpath)
) WITHOUT ROWID
"""
_PACKAGE = Path(__file__).resolve().parent


@dataclass
class Cached:
    """One file's cached scan: its format, its output (artifacts already hashed) and how many it hashed."""

    fmt: str | None
    out: ScanOutput
    hashed: int


def _key_text(key: Key) -> str:
    return "%d:%d:%d:%d:%d" % key  # noqa: UP031 (the fastest of the spellings: once per walked file)


@cache
def context() -> str:
    """aibom's version and a fingerprint (name, size, mtime) of its code and data files."""
    parts = [__version__, str(scanrecord.FORMAT)]
    folders = [_PACKAGE]
    with contextlib.suppress(FileNotFoundError):
        folders.append(data_dir("licenses"))
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    st = os.stat(path)
                    parts.append(f"{os.path.relpath(path, folder)}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


#: New rows written once this many are waiting (a 70,000-file cold scan held 26 MB of them until the end).
FLUSH_ROWS = 4096


class ScanCache(HashCache):
    """Per-root scan results: loaded once, `lookup_all` for the walked files, `put` new results (any thread),
    `close` writes."""

    filename = FILENAME
    schema = _SCHEMA
    label = "scan cache"

    def __init__(self, folder: Path | None, scope: str) -> None:
        self.scope = scope_of(scope)
        self.context = context()
        self._gone: list[str] = []  # rows the lookup matched to no walked file: deleted by the next write
        self._entries: dict[str, str] = {}  # relpath -> data, new or changed this run
        self._write_lock = threading.Lock()
        self._stale_dropped = False  # rows of other aibom versions (contexts) of this root: dropped by the first write
        self._reset = False  # the rows could not be read: all of the root's are dropped by the next write
        self._nothing: dict[str, Cached] = {}  # rows of files that yielded nothing, decoded once
        super().__init__(folder)

    def lookup_all(self, entries: Sequence[FileEntry]) -> list[Cached | None]:
        """The cached result of each walked file in its current state, or None where it must be scanned.
        Files whose rows are equal and yield nothing (most source and config files) share one result.

        The root's rows are read in path order and matched to the walked files sorted the same way, one
        row at a time: the rows are never all held at once (72,000 of them took 50 MB)."""
        found: list[Cached | None] = [None] * len(entries)
        if self._db is None:
            return found
        paths = [entry.relpath for entry in entries]
        order = iter(sorted(range(len(paths)), key=paths.__getitem__))  # code point order = SQLite's on UTF-8
        nothing, decode, gone = self._nothing, self._decode, self._gone
        i = next(order, None)
        try:
            rows = self._db.execute(
                "SELECT relpath, statkey, data FROM scans WHERE scope=? AND context=? ORDER BY relpath",
                (self.scope, self.context),
            )
            for rel, statkey, data in rows:
                if type(rel) is not str or type(data) is not str:
                    continue  # not a row this code wrote; replaced when its file is scanned
                while i is not None and paths[i] < rel:
                    i = next(order, None)
                if i is None or paths[i] != rel:
                    gone.append(rel)
                    continue
                key = entries[i].key
                if key is not None and statkey == _key_text(key):
                    found[i] = nothing.get(data) or decode(data)
                i = next(order, None)
        except sqlite3.DatabaseError as exc:  # e.g. a row that is not UTF-8: every file is scanned again, and
            self.warning = f"scan cache not read: {exc}"  # the root's rows are replaced, so the next run reads
            gone.clear()
            self._reset = True
            return [None] * len(entries)
        return found

    def _decode(self, text: str) -> Cached | None:
        """A row's result, or None when it does not decode exactly or a file it consulted has changed."""
        try:
            record = scanrecord.decode(text)
        except scanrecord.BadRecord:
            return None
        if record.deps and not readdeps.unchanged(record.deps):
            return None
        cached = Cached(record.fmt, record.out, record.hashed)
        if not record.deps and record.out == _NOTHING:
            self._nothing[text] = cached  # shared: nothing reads a result's lists to change them
        return cached

    def put(self, relpath: str, key: Key, result: Cached, deps: dict[str, readdeps.StatKey]) -> None:  # type: ignore[override]
        if self._db is None:
            return
        record = scanrecord.Record(scanrecord.FORMAT, result.fmt, result.hashed, dict(sorted(deps.items())), result.out)
        try:
            text = scanrecord.encode(record)
        except (RecursionError, ValueError):  # nested past what the encoder takes: scanned again next time
            return
        with self._lock:
            self._entries[relpath] = f"{_key_text(key)}\n{text}"
            full = len(self._entries) >= FLUSH_ROWS
        if full:
            self.flush()  # a big cold scan does not hold every new row until the end

    def flush(self) -> None:
        """Write new and changed rows, drop rows of files that are gone; a failure loses only cache entries."""
        if self._db is None:
            return
        with self._lock:  # taken from the buffer at once: workers adding rows do not wait for the write
            rows = []
            for rel, value in self._entries.items():
                statkey, data = value.split("\n", 1)
                rows.append((self.scope, rel, self.context, statkey, data))
            gone = [(self.scope, rel) for rel in self._gone]  # files that are gone: deleted by this write
            self._gone = []
            self._entries.clear()
            if not rows and not gone:
                return
            stale = [] if self._stale_dropped else [(self.scope, self.context)]
            self._stale_dropped = True
            reset, self._reset = ([(self.scope,)] if self._reset else []), False
        with self._write_lock:  # one write at a time on the connection
            self._write(
                [
                    ("DELETE FROM scans WHERE scope=?", reset),
                    ("DELETE FROM scans WHERE scope=? AND context!=?", stale),
                    ("DELETE FROM scans WHERE scope=? AND relpath=?", gone),
                    ("INSERT OR REPLACE INTO scans VALUES (?, ?, ?, ?, ?)", rows),
                ]
            )
