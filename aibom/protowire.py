"""Protocol Buffers wire format, read field by field from a file without any schema library.

Length-delimited fields are not read: the caller gets (offset, length) and either descends into
them, reads them (bounded) or lets the reader jump past them, so a 1 GB `raw_data` costs nothing.
Varints are at most 10 bytes, lengths are checked against the enclosing message, and every reader
carries a field budget so a file of millions of tiny fields cannot run for minutes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .bytecursor import Cursor, Truncated

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


class WireError(ValueError):
    """Not valid protobuf where a message was expected."""


class Budget:
    """How many more fields one parse may visit."""

    def __init__(self, fields: int) -> None:
        self.left = fields

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise WireError("too many fields (limit reached)")


def _varint_from(take) -> int:  # type: ignore[no-untyped-def]
    result = shift = 0
    for _ in range(10):
        byte = take(1)[0]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF
        shift += 7
    raise WireError("varint longer than 10 bytes")


def read_varint(cur: Cursor) -> int:
    return _varint_from(cur.take)


def signed(value: int) -> int:
    """A varint read as int64/int32 (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


Field = tuple[int, int, int]  # (field number, wire type, value or length)


def fields(cur: Cursor, end: int, budget: Budget) -> Iterator[Field]:
    """The fields of the message ending at `end`. For LEN fields the value is the length and the
    cursor sits at the payload; whatever the caller leaves unread is skipped on the next step."""
    if end > cur.end:
        raise WireError(f"message runs past the end of the file (byte {end} of {cur.end})")
    try:
        while cur.pos < end:
            budget.spend()
            key = read_varint(cur)
            number, wtype = key >> 3, key & 7
            if number == 0:
                raise WireError(f"field number 0 at byte {cur.pos}")
            if wtype == VARINT:
                yield number, wtype, read_varint(cur)
            elif wtype == I64:
                yield number, wtype, struct.unpack("<Q", cur.take(8))[0]
            elif wtype == I32:
                yield number, wtype, struct.unpack("<I", cur.take(4))[0]
            elif wtype == LEN:
                length = read_varint(cur)
                stop = cur.pos + length
                if stop > end:
                    raise WireError(f"field {number}: length {length} runs past its message")
                yield number, wtype, length
                if cur.pos > stop:
                    raise WireError(f"field {number}: content overran its length")
                cur.pos = stop
            else:
                raise WireError(f"unsupported wire type {wtype} (field {number})")
            if cur.pos > end:
                raise WireError("field runs past its message")
    except Truncated as exc:
        raise WireError(f"truncated: {exc}") from None


def text(cur: Cursor, length: int, limit: int) -> str:
    """A string field's payload (at most `limit` bytes of it, decoded leniently)."""
    try:
        return cur.take(min(length, limit)).decode("utf-8", errors="replace")
    except Truncated as exc:
        raise WireError(f"truncated: {exc}") from None


def packed_varints(cur: Cursor, length: int, limit: int) -> list[int]:
    """A packed repeated varint field (at most `limit` values)."""
    stop = cur.pos + length
    values: list[int] = []
    try:
        while cur.pos < stop:
            if len(values) >= limit:
                raise WireError(f"more than {limit} packed values")
            values.append(read_varint(cur))
    except Truncated as exc:
        raise WireError(f"truncated: {exc}") from None
    if cur.pos != stop:
        raise WireError("packed field overran its length")
    return values


def peek_fields(data: bytes, limit: int = 64) -> list[tuple[int, int, int]] | None:
    """Top-level (field number, wire type, value or length) seen in a prefix of a message.

    The prefix may end inside a field (that field is still listed); None if the bytes are not
    valid protobuf before that point. Cheap enough for format identification."""
    out: list[tuple[int, int, int]] = []
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise IndexError
        pos += n
        return data[pos - n : pos]

    try:
        while pos < len(data) and len(out) < limit:
            key = _varint_from(take)
            number, wtype = key >> 3, key & 7
            if number == 0 or wtype not in (VARINT, I64, LEN, I32):
                return None
            if wtype == VARINT:
                out.append((number, wtype, _varint_from(take)))
            elif wtype in (I64, I32):
                out.append((number, wtype, 0))
                take(8 if wtype == I64 else 4)
            else:
                length = _varint_from(take)
                out.append((number, wtype, length))
                pos += length
    except IndexError:
        pass
    except WireError:
        return None
    return out
