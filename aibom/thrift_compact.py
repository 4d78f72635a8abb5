"""A small, bounded decoder for the Thrift compact protocol (the encoding of Parquet footers).

Structs decode to `{field_id: value}`; lists and sets to lists; binary to bytes. Every count is
checked against the bytes left, nesting is limited, and any inconsistency raises ThriftError.
"""

from __future__ import annotations

import struct
from typing import Any

MAX_DEPTH = 32

# compact protocol type ids
_BOOL_TRUE, _BOOL_FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)


class ThriftError(ValueError):
    """The bytes are not a well-formed compact-protocol struct."""


class CompactReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise ThriftError("truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        result = shift = 0
        while True:
            b = self._byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ThriftError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def binary(self) -> bytes:
        n = self.varint()
        if n > len(self.data) - self.pos:
            raise ThriftError(f"binary length {n} exceeds the data")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def value(self, ttype: int, depth: int) -> Any:
        if ttype in (_BOOL_TRUE, _BOOL_FALSE):  # only inside lists; fields carry the bool in their type
            return self._byte() == 1
        if ttype == _BYTE:
            return self._byte()
        if ttype in (_I16, _I32, _I64):
            return self.zigzag()
        if ttype == _DOUBLE:
            if len(self.data) - self.pos < 8:
                raise ThriftError("truncated double")
            (v,) = struct.unpack_from("<d", self.data, self.pos)
            self.pos += 8
            return v
        if ttype == _BINARY:
            return self.binary()
        if ttype in (_LIST, _SET):
            return self.list(depth + 1)
        if ttype == _MAP:
            return self.map(depth + 1)
        if ttype == _STRUCT:
            return self.struct(depth + 1)
        raise ThriftError(f"unknown type {ttype}")

    def list(self, depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise ThriftError("nested too deeply")
        head = self._byte()
        size, etype = head >> 4, head & 0x0F
        if size == 15:
            size = self.varint()
        if size > len(self.data) - self.pos:  # every element takes at least one byte
            raise ThriftError(f"list of {size} elements exceeds the data")
        return [self.value(etype, depth) for _ in range(size)]

    def map(self, depth: int) -> dict[Any, Any]:
        if depth > MAX_DEPTH:
            raise ThriftError("nested too deeply")
        size = self.varint()
        if size == 0:
            return {}
        if 2 * size > len(self.data) - self.pos:
            raise ThriftError(f"map of {size} entries exceeds the data")
        types = self._byte()
        out = {}
        for _ in range(size):
            key = self.value(types >> 4, depth)
            out[key if not isinstance(key, list) else tuple(key)] = self.value(types & 0x0F, depth)
        return out

    def struct(self, depth: int = 0) -> dict[int, Any]:
        if depth > MAX_DEPTH:
            raise ThriftError("nested too deeply")
        fields: dict[int, Any] = {}
        last = 0
        while True:
            head = self._byte()
            if head == 0:
                return fields
            delta, ftype = head >> 4, head & 0x0F
            fid = last + delta if delta else self.zigzag()
            last = fid
            if ftype == _BOOL_TRUE:
                fields[fid] = True
            elif ftype == _BOOL_FALSE:
                fields[fid] = False
            else:
                fields[fid] = self.value(ftype, depth)


def decode_struct(data: bytes) -> dict[int, Any]:
    """Decode one struct from the start of `data`."""
    try:
        return CompactReader(data).struct()
    except RecursionError:
        raise ThriftError("nested too deeply") from None
