"""A forward-only, buffered reader over a probed file, for parsers that walk a header field by field.

Every read is checked against the end of the region first, so a declared length larger than the file
fails fast (`Truncated`) instead of allocating or reading it; skipping a large field is free.
"""

from __future__ import annotations

from .sniff import Probe, ReadError

CHUNK = 1 << 20
FIRST_CHUNK = 4096


class Truncated(ValueError):
    """The region ends before a field does."""


class Cursor:
    """Reads `probe` from `offset` up to `end` (default: end of file), a chunk at a time."""

    def __init__(self, probe: Probe, offset: int = 0, end: int | None = None) -> None:
        self.probe = probe
        self.pos = offset
        self.end = probe.size if end is None else min(end, probe.size)
        self._buf = b""
        self._buf_start = 0
        self._chunk = FIRST_CHUNK

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        """The next `n` bytes; `Truncated` if the region holds fewer."""
        if n < 0 or n > self.remaining:
            raise Truncated(f"{n} bytes needed at offset {self.pos}, {max(self.remaining, 0)} left")
        rel = self.pos - self._buf_start
        if rel >= 0 and rel + n <= len(self._buf):
            data = self._buf[rel : rel + n]
        elif n >= CHUNK:
            data = self.probe.read(self.pos, n)
        else:
            # Reading on from the buffer: grow the next read; after a jump: start small again,
            # so a header interleaved with skipped tensor data costs little more than the header.
            sequential = self._buf_start <= self.pos <= self._buf_start + len(self._buf)
            self._chunk = min(self._chunk * 2, CHUNK) if sequential else FIRST_CHUNK
            self._buf_start = self.pos
            self._buf = self.probe.read(self.pos, min(max(self._chunk, n), self.end - self.pos))
            data = self._buf[:n]
        if len(data) != n:
            raise ReadError("file shrank while being read")
        self.pos += n
        return data

    def peek(self, n: int) -> memoryview:
        """Up to `n` bytes from the current position (fewer at the end of the region), not consumed.

        A view into the buffer, not a copy: walking a multi-MB header a window at a time would otherwise
        copy every window twice (the read, then the slice)."""
        n = min(n, self.remaining)
        rel = self.pos - self._buf_start
        if rel < 0 or rel + n > len(self._buf):
            self._buf = self.probe.read(self.pos, n)
            self._buf_start, rel = self.pos, 0
            if len(self._buf) != n:
                raise ReadError("file shrank while being read")
        return memoryview(self._buf)[rel : rel + n]

    def skip(self, n: int) -> None:
        """Move past `n` bytes without reading them."""
        if n < 0 or n > self.remaining:
            raise Truncated(f"cannot skip {n} bytes at offset {self.pos}, {max(self.remaining, 0)} left")
        self.pos += n
