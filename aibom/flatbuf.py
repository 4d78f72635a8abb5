"""A bounds-checked reader for FlatBuffers tables (the encoding of Arrow IPC metadata)."""

from __future__ import annotations

import struct


class FlatError(ValueError):
    """An offset or length points outside the buffer."""


class Table:
    """One table in `buf` at `pos`; fields are read by their index in the schema."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        soffset = _unpack(buf, "<i", pos)
        self.vtable = pos - soffset
        self.vt_size = _unpack(buf, "<H", self.vtable)
        if self.vt_size < 4 or self.vt_size % 2:
            raise FlatError("bad vtable")

    @classmethod
    def root(cls, buf: bytes, start: int = 0) -> Table:
        return cls(buf, start + _unpack(buf, "<I", start))

    def _field(self, index: int) -> int | None:
        slot = 4 + 2 * index
        if slot >= self.vt_size:
            return None
        off = _unpack(self.buf, "<H", self.vtable + slot)
        return self.pos + off if off else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        return default if at is None else _unpack(self.buf, fmt, at)

    def _indirect(self, index: int) -> int | None:
        at = self._field(index)
        return None if at is None else at + _unpack(self.buf, "<I", at)

    def table(self, index: int) -> Table | None:
        at = self._indirect(index)
        return None if at is None else Table(self.buf, at)

    def string(self, index: int, limit: int = 4096) -> str | None:
        at = self._indirect(index)
        if at is None:
            return None
        n = _unpack(self.buf, "<I", at)
        if at + 4 + n > len(self.buf):
            raise FlatError("string outside the buffer")
        return self.buf[at + 4 : at + 4 + min(n, limit)].decode("utf-8", errors="replace")

    def vector(self, index: int, elem_size: int) -> tuple[int, int]:
        """(position of the first element, element count), bounds-checked."""
        at = self._indirect(index)
        if at is None:
            return 0, 0
        n = _unpack(self.buf, "<I", at)
        if at + 4 + n * elem_size > len(self.buf):
            raise FlatError("vector outside the buffer")
        return at + 4, n

    def tables(self, index: int, limit: int) -> list[Table]:
        start, n = self.vector(index, 4)
        return [Table(self.buf, start + 4 * i + _unpack(self.buf, "<I", start + 4 * i)) for i in range(min(n, limit))]


def _unpack(buf: bytes, fmt: str, pos: int) -> int:
    size = struct.calcsize(fmt)
    if pos < 0 or pos + size > len(buf):
        raise FlatError("offset outside the buffer")
    return struct.unpack_from(fmt, buf, pos)[0]
