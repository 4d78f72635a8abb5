"""A persistent cache of rendered BOM components, so a rescan re-renders only what changed.

One SQLite table next to the hash and scan caches (`fragments-v1.sqlite3`), one row per (scanned root,
fragment key). A key is the SHA-256 of everything one component's JSON is made from (see
`aibom.bom.assemble.fragment_key`), so a row is never stale: a changed artifact has a new key. A run loads
its root's rows in one query, writes the fragments it rendered and drops the rows it did not use. A row
whose text no longer matches its checksum (a damaged file) is a miss: that component is rendered again.
Locking, busy handling and rebuilding a corrupt database are the hash cache's (`HashCache`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from ..hashcache import HashCache, scope_of

FILENAME = "fragments-v1.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS fragments (
    scope TEXT NOT NULL, key TEXT NOT NULL, text TEXT NOT NULL, checksum TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID
"""


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class FragmentCache(HashCache):
    """Rendered components of one scanned root, by fragment key. `load`, then `store` once per render."""

    filename = FILENAME
    schema = _SCHEMA
    label = "BOM fragment cache"

    def __init__(self, folder: Path | None, scope: str) -> None:
        self.scope = scope_of(scope)
        super().__init__(folder)

    def load(self) -> dict[str, str]:
        """Every cached fragment of this root (key -> text); empty when the cache is off or unreadable."""
        if self._db is None:
            return {}
        try:
            rows = self._db.execute("SELECT key, text, checksum FROM fragments WHERE scope=?", (self.scope,)).fetchall()
        except sqlite3.DatabaseError as exc:
            self.warning = f"{self.label} not read: {exc}"
            return {}
        return {k: t for k, t, c in rows if isinstance(k, str) and isinstance(t, str) and c == _checksum(t)}

    def store(self, new: dict[str, str], unused: list[str]) -> None:
        """Add the fragments rendered this run, drop the ones it no longer needs; a failure loses only cache rows."""
        if self._db is None or (not new and not unused):
            return
        self._write(
            [
                ("DELETE FROM fragments WHERE scope=? AND key=?", [(self.scope, k) for k in unused]),
                (
                    "INSERT OR REPLACE INTO fragments VALUES (?, ?, ?, ?)",
                    [(self.scope, k, t, _checksum(t)) for k, t in new.items()],
                ),
            ]
        )
