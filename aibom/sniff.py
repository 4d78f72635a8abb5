"""Identify a file's format from its bytes, and give scanners bounded, safe reads of it.

The registry (`aibom.scanners`) asks each scanner in priority order whether it knows a file;
names are only hints, content decides.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

HEAD_BYTES = 8192
#: A file's state as the caches key it: (device, inode, size, mtime_ns, ctime_ns). Any write changes it.
Key = tuple[int, int, int, int, int]


def key_of(st: os.stat_result) -> Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ReadError(Exception):
    """A file could not be read as a regular file (gone, replaced, permission denied ...)."""


def open_regular(path: str) -> int:
    """Open `path` read-only without blocking and insist it is a regular file. Returns an fd."""
    return open_regular_stat(path)[0]


def open_regular_stat(path: str) -> tuple[int, os.stat_result]:
    """`open_regular`, with the file's status as it was opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ReadError(exc.strerror or str(exc)) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError("not a regular file")
    except OSError as exc:
        os.close(fd)
        raise ReadError(exc.strerror or str(exc)) from exc
    except BaseException:
        os.close(fd)
        raise
    return fd, st


@dataclass
class Probe:
    """One file under inspection: its name, size and first bytes, with bounded reads of the rest."""

    relpath: str
    path: str
    size: int
    head: bytes
    root: str = ""  # the scanned root's real path
    #: what a scanner's `identify` worked out about this file, for its `scan` to reuse (keyed by family)
    identified: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: the head is the whole file, read while its status (size, times, inode) stayed the same: its hash
    #: is the file's, as `hashing.sha256_file` would give it
    complete: bool = False

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.relpath.rsplit("/", 1)[0] if "/" in self.relpath else ""

    def read(self, offset: int, length: int) -> bytes:
        """Read up to `length` bytes at `offset`; fewer only at end of file."""
        if offset + length <= len(self.head) or len(self.head) >= self.size:  # in the head, or all of it is
            return self.head[offset : offset + length]
        fd = open_regular(self.path)
        try:
            chunks = []
            while length > 0:
                chunk = os.pread(fd, min(length, 1 << 24), offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
                length -= len(chunk)
            return b"".join(chunks)
        except OSError as exc:
            raise ReadError(exc.strerror or str(exc)) from exc
        finally:
            os.close(fd)

    def read_text(self, limit: int) -> str | None:
        """The file as text if it is at most `limit` bytes and looks like text, else None."""
        if self.size > limit:
            return None
        data = self.read(0, self.size)
        if not looks_like_text(data):
            return None
        return data.decode("utf-8", errors="replace")

    @classmethod
    def from_file(cls, relpath: str, path: str, root: str = "") -> tuple[Probe, os.stat_result]:
        fd, st = open_regular_stat(path)
        try:
            head = os.pread(fd, HEAD_BYTES, 0)[: st.st_size]  # a file growing meanwhile is read as it was sized
            complete = len(head) == st.st_size and key_of(st) == key_of(os.fstat(fd))
        except OSError as exc:
            raise ReadError(exc.strerror or str(exc)) from exc
        finally:
            os.close(fd)
        return cls(relpath, path, st.st_size, head, root, complete=complete), st


_TEXT_CONTROL = set(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


def looks_like_text(data: bytes) -> bool:
    """Heuristic: no NUL bytes, valid UTF-8 (allowing a cut last character) or few control bytes."""
    if not data:
        return True
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason.startswith("unexpected end"):
            return True
    controls = sum(1 for b in data if b in _TEXT_CONTROL)
    return controls / len(data) < 0.01
