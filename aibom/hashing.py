"""Streaming SHA-256 of files, through the persistent cache."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from .hashcache import HashCache, key_of
from .sniff import ReadError, open_regular

CHUNK = 1 << 20


class FileChanged(Exception):
    """The file changed while it was being hashed; its hash describes no real state of it."""


def sha256_file(path: str, progress: Callable[[int], None] | None = None) -> tuple[str, os.stat_result]:
    """Hash `path` in fixed-size chunks. Returns (hex digest, stat before reading)."""
    fd = open_regular(path)
    try:
        before = os.fstat(fd)
        digest = hashlib.sha256()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        remaining = before.st_size  # never chase a file that keeps growing
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
            while remaining > 0:
                n = fh.readinto(view[: min(CHUNK, remaining)])
                if not n:
                    break
                digest.update(view[:n])
                remaining -= n
                if progress:
                    progress(n)
        after = os.fstat(fd)
    except OSError as exc:
        raise ReadError(exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)
    if key_of(before) != key_of(after):
        raise FileChanged(path)
    return digest.hexdigest(), before


class Hasher:
    """Hash files, answering from the cache when (device, inode, size, mtime) is unchanged."""

    def __init__(self, cache: HashCache, progress: Callable[[int], None] | None = None) -> None:
        self.cache = cache
        self.progress = progress

    def hash(self, path: str) -> tuple[str, bool]:
        """(sha256, answered from cache)."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ReadError(exc.strerror or str(exc)) from exc
        cached = self.cache.get(key_of(st))
        if cached:
            return cached, True
        digest, before = sha256_file(path, self.progress)
        self.cache.put(key_of(before), digest)
        return digest, False
