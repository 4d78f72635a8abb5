"""Streaming SHA-256 of files, through the persistent cache."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .hashcache import HashCache
from .sniff import Key, ReadError, key_of, open_regular

if TYPE_CHECKING:
    from .hashworker import HashWorkers

CHUNK = 1 << 20
#: Files from this size up are hashed in worker processes when a scan has them (see `Hasher`).
LARGE = 64 << 20


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
    """Hash files, answering from the cache when (device, inode, size, mtime) is unchanged.

    Files of `large` bytes or more are hashed in up to `processes` worker processes (`hashworker`). A
    thread hashing a file needs the GIL back after every chunk it reads and hashes, and while the other
    scan threads run Python each wait lasts up to the interpreter's switch interval: 1 GiB beside three
    busy threads took 29 s instead of 1 s. A process hashes at `hashlib`'s speed on a core of its own.
    If the processes cannot start or die, hashing goes on in the calling thread.
    """

    def __init__(
        self,
        cache: HashCache,
        progress: Callable[[int], None] | None = None,
        processes: int = 0,
        large: int = LARGE,
    ) -> None:
        self.cache = cache
        self.progress = progress
        self.processes = processes
        self.large = large
        self._workers: HashWorkers | None = None
        self._lock = threading.Lock()
        self._aborted = False

    def hash(self, path: str) -> tuple[str, bool]:
        """(sha256, answered from cache)."""
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ReadError(exc.strerror or str(exc)) from exc
        cached = self.cache.get(key_of(st))
        if cached:
            return cached, True
        done = self._in_process(path) if self.offloads(st.st_size) else None
        if done is not None:
            digest, key = done
            if self.progress:
                self.progress(key[2])
        else:
            digest, before = sha256_file(path, self._chunk_done)
            key = key_of(before)
        self.cache.put(key, digest)
        return digest, False

    def _chunk_done(self, n: int) -> None:
        """After each chunk hashed in this process: stop if the scan was aborted, else report progress."""
        if self._aborted:
            raise ReadError("scan interrupted")
        if self.progress:
            self.progress(n)

    def offloads(self, size: int) -> bool:
        """Whether a file of `size` bytes goes to a worker process (while there are working ones)."""
        return self.processes > 0 and size >= self.large

    def _in_process(self, path: str) -> tuple[str, Key] | None:
        """(sha256, status key) from a worker process; None when there are no working processes."""
        from .hashworker import HashWorkers, WorkerGone  # only when a large file is hashed

        with self._lock:
            if self._workers is None and self.processes > 0 and not self._aborted:
                self._workers = HashWorkers(self.processes)
            workers = self._workers if self.processes > 0 else None
        if workers is None:
            return None
        try:
            return workers.hash(path)
        except WorkerGone:
            if self._aborted:
                raise ReadError("scan interrupted") from None
            with self._lock:
                self.processes = 0  # the rest in threads, as if processes had never been tried
            return None

    def close(self, abort: bool = False) -> None:
        """End the worker processes: after their current file, or at once when the scan is `abort`ed."""
        with self._lock:
            self._aborted = self._aborted or abort
            workers, self._workers = self._workers, None
        if workers is not None:
            workers.stop(kill=abort)
