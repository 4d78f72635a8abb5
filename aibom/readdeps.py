"""Files a scanner consulted besides the one it scans (an included requirements file, `.dvc/config`, a path a
script names), recorded so the scan-result cache can tell when a cached result has gone stale.

Scanners call `note(path)` before they look at another path; `recording()` collects them per worker thread.
Each noted path is stored with its stat key, or None when it did not exist.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .sniff import Key, key_of

StatKey = Key | None
_local = threading.local()


def stat_key(path: str) -> StatKey:
    """(dev, ino, size, mtime_ns, ctime_ns) of `path` without following a final symlink, None if absent
    (or impossible: a path holding a NUL byte, as a damaged cache row may name)."""
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return None
    return key_of(st)


def note(path: str) -> None:
    """Record that the running scan depends on `path` (and, for a symlink, on its target)."""
    deps: dict[str, StatKey] | None = getattr(_local, "deps", None)
    if deps is None or path in deps:
        return
    deps[path] = stat_key(path)
    real = os.path.realpath(path)
    if real != path:
        deps.setdefault(real, stat_key(real))


@contextmanager
def recording() -> Iterator[dict[str, StatKey]]:
    """Collect the paths noted by the code run inside, in this thread."""
    previous = getattr(_local, "deps", None)
    _local.deps = deps = {}
    try:
        yield deps
    finally:
        _local.deps = previous


def unchanged(deps: dict[str, StatKey]) -> bool:
    """True if every recorded path is still in the state it was in when recorded."""
    return all(stat_key(path) == key for path, key in deps.items())
