"""Bounded random-access reading for the pickle machine: a window over a file or a byte string."""

from __future__ import annotations

from collections.abc import Callable

WINDOW = 1 << 20
FIRST_WINDOW = 64 * 1024  # most pickles are small; read more only when the stream goes on
MAX_LINE = 16 << 20  # text-opcode argument lines are read whole up to this long (protocol 0 arrays are long lines)
SHORT_LINE = 64 * 1024  # a line is first looked for this far, and read further only when it is longer


class Truncated(Exception):
    """The input ended inside an opcode or its argument."""


class Reader:
    """Sequential reads over `read_at(offset, n)` with a sliding window; never holds more than a window."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int, pos: int = 0) -> None:
        self._read_at = read_at
        self.size = size
        self.pos = pos
        #: the bytes read last and the offset they start at (the machine reads opcode bytes from them directly)
        self.base = 0
        self.window = b""

    @classmethod
    def of_bytes(cls, data: bytes, pos: int = 0) -> Reader:
        view = memoryview(data)
        return cls(lambda off, n: bytes(view[off : off + n]), len(data), pos)

    def at(self, pos: int) -> Reader:
        """Another reader of the same source from `pos`, starting with this one's window."""
        other = Reader(self._read_at, self.size, pos)
        other.base, other.window = self.base, self.window
        return other

    def _ensure(self, n: int) -> None:
        end = self.pos + n
        if end > self.size:
            raise Truncated(f"needs {n} bytes at offset {self.pos}, only {self.size - self.pos} left")
        if self.pos < self.base or end > self.base + len(self.window):
            self.base = self.pos
            want = max(n, WINDOW if self.window else FIRST_WINDOW)
            # never past `size`: a source that grew (a file appended to while scanned) is read as it was sized
            self.window = self._read_at(self.pos, want)[: self.size - self.pos]
            if len(self.window) < n:
                raise Truncated(f"file ended at offset {self.pos + len(self.window)}")

    def take(self, n: int) -> bytes:
        """The next `n` bytes (callers bound `n`)."""
        start = self.pos - self.base
        if start < 0 or start + n > len(self.window):
            self._ensure(n)
            start = self.pos - self.base
        self.pos += n
        return self.window[start : start + n]

    def byte(self) -> int:
        i = self.pos - self.base
        if i < 0 or i >= len(self.window):
            self._ensure(1)
            i = self.pos - self.base
        self.pos += 1
        return self.window[i]

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise Truncated(f"declared length {n} at offset {self.pos} runs past the end ({self.size})")
        self.pos += n

    def line(self, limit: int) -> bytes:
        """Bytes up to (not including) the next newline, which must come within `limit` bytes."""
        n = min(limit + 1, self.size - self.pos)
        if n <= 0:
            raise Truncated(f"input ended at offset {self.pos} where a line was expected")
        first = min(n, SHORT_LINE)  # most lines are short: do not make the window `limit` long for them
        self._ensure(first)
        start = self.pos - self.base
        idx = self.window.find(b"\n", start, start + first)
        if idx < 0 and n > first:
            self._ensure(n)
            start = self.pos - self.base
            idx = self.window.find(b"\n", start, start + n)
        if idx < 0:
            if n <= limit:
                raise Truncated(f"unterminated line at offset {self.pos}")
            raise ValueError(f"line at offset {self.pos} is longer than {limit} bytes")
        out = self.window[start:idx]
        self.pos += idx - start + 1
        return out

    def skip_line(self, limit: int) -> None:
        """Move past the next newline, however far (reading up to `limit` bytes for it, a chunk at a time)."""
        pos, end = self.pos, min(self.size, self.pos + limit)
        while pos < end:
            chunk = self._read_at(pos, min(WINDOW, end - pos))
            if not chunk:
                break
            idx = chunk.find(b"\n")
            if idx >= 0:
                self.pos = pos + idx + 1
                return
            pos += len(chunk)
        raise Truncated(f"no newline within {limit} bytes of offset {self.pos}")
