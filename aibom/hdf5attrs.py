"""HDF5 without a library: find the superblock and read the root group's string attributes.

Enough of the format (HDF5 File Format Specification 3.0) to read what Keras stores on the root
group (`model_config`, `keras_version`, `backend`): superblock versions 0-3, object headers v1/v2
with continuation blocks, attribute messages v1-3, fixed and variable-length strings (the latter in
global heap collections). Every address is checked against the file, every size is bounded, and the
number of header blocks and messages visited is capped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .sniff import Probe, ReadError

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_SUPERBLOCK_OFFSET = 1 << 30
MAX_BLOCK = 1 << 20  # one object header block
MAX_BLOCKS = 64  # continuation blocks followed
MAX_ATTRIBUTES = 256
MAX_VALUE = 16 << 20  # one attribute value
MAX_HEAP = 64 << 20  # one global heap collection

MSG_ATTRIBUTE, MSG_CONTINUATION, MSG_ATTRIBUTE_INFO = 0x0C, 0x10, 0x15
UNDEFINED = 0xFFFFFFFFFFFFFFFF


class HDF5Error(ValueError):
    """Not readable as HDF5 (or outside what this reader supports); the message says why."""


def superblock_offsets(size: int) -> list[int]:
    """Where a superblock may sit: 0, then 512, 1024, 2048 ... (after a user block)."""
    offsets, off = [0], 512
    while off + 8 <= size and off <= MAX_SUPERBLOCK_OFFSET:
        offsets.append(off)
        off *= 2
    return offsets


def find_signature(probe: Probe, beyond_head: bool) -> int | None:
    for off in superblock_offsets(probe.size):
        if off + 8 > len(probe.head) and not beyond_head:
            break
        if probe.read(off, 8) == SIGNATURE:
            return off
    return None


@dataclass
class RootInfo:
    superblock_offset: int
    superblock_version: int
    attributes: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # attributes present but not strings
    dense_attributes: bool = False  # attributes kept in a fractal heap: not read


class _File:
    def __init__(self, probe: Probe, base: int) -> None:
        self.probe = probe
        self.base = base
        self.o = self.l = 8  # size of offsets / lengths

    def read(self, addr: int, n: int, what: str) -> bytes:
        if addr == UNDEFINED or n < 0 or addr + self.base + n > self.probe.size:
            raise HDF5Error(f"{what} at address {addr} (+{n} bytes) lies outside the file")
        data = self.probe.read(self.base + addr, n)
        if len(data) != n:
            raise ReadError("file shrank while being read")
        return data

    def uint(self, data: bytes, pos: int, size: int) -> int:
        if pos + size > len(data):
            raise HDF5Error("structure truncated")
        return int.from_bytes(data[pos : pos + size], "little")


def read_root(probe: Probe, sb_offset: int) -> RootInfo:
    """The root group's string attributes of the HDF5 file whose superblock is at `sb_offset`."""
    head = probe.read(sb_offset, 96)
    if len(head) < 24 or head[:8] != SIGNATURE:
        raise HDF5Error("no superblock")
    version = head[8]
    f = _File(probe, sb_offset)
    if version in (0, 1):
        f.o, f.l = head[13], head[14]
        pos = 24 + (4 if version == 1 else 0)
        if f.o not in (2, 4, 8) or f.l not in (2, 4, 8):
            raise HDF5Error(f"unsupported offset/length sizes {f.o}/{f.l}")
        base = f.uint(head, pos, f.o)
        pos += 4 * f.o  # base, free-space, end-of-file, driver-info addresses
        pos += f.o  # root symbol table entry: link name offset
        root = f.uint(head, pos, f.o)
    elif version in (2, 3):
        f.o, f.l = head[9], head[10]
        if f.o not in (2, 4, 8) or f.l not in (2, 4, 8):
            raise HDF5Error(f"unsupported offset/length sizes {f.o}/{f.l}")
        base = f.uint(head, 12, f.o)
        root = f.uint(head, 12 + 3 * f.o, f.o)
    else:
        raise HDF5Error(f"unsupported superblock version {version}")
    if base not in (0, sb_offset):
        raise HDF5Error(f"base address {base} does not match the superblock at {sb_offset}")
    f.base = sb_offset
    info = RootInfo(sb_offset, version)
    for mtype, body in _messages(f, root):
        if mtype == MSG_ATTRIBUTE and len(info.attributes) + len(info.skipped) < MAX_ATTRIBUTES:
            name, value = _attribute(f, body)
            if value is None:
                info.skipped.append(name)
            else:
                info.attributes[name] = value
        elif mtype == MSG_ATTRIBUTE_INFO and len(body) >= 2 + f.o:
            heap = f.uint(body, 2 + (2 if body[1] & 1 else 0), f.o)
            info.dense_attributes = heap != UNDEFINED
    return info


def _messages(f: _File, addr: int) -> list[tuple[int, bytes]]:
    """(type, body) of every message of the object header at `addr`, continuations included."""
    first = f.read(addr, 16, "object header")
    out: list[tuple[int, bytes]] = []
    if first[:4] == b"OHDR":
        if first[4] != 2:
            raise HDF5Error(f"unsupported object header version {first[4]}")
        flags = first[5]
        pos = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        prefix = f.read(addr, pos + width, "object header")
        size = f.uint(prefix, pos, width)
        blocks = [(addr + pos + width, size, 2, flags)]
    elif first[0] == 1:
        size = f.uint(first, 8, 4)
        blocks = [(addr + 16, size, 1, 0)]
    else:
        raise HDF5Error(f"unsupported object header at address {addr}")
    seen = 0
    while blocks:
        start, size, version, flags = blocks.pop(0)
        seen += 1
        if seen > MAX_BLOCKS:
            raise HDF5Error(f"more than {MAX_BLOCKS} object header blocks")
        if size > MAX_BLOCK:
            raise HDF5Error(f"object header block of {size} bytes exceeds the limit")
        data = f.read(start, size, "object header block")
        if version == 2 and seen > 1:
            if data[:4] != b"OCHK":
                raise HDF5Error("continuation block without OCHK signature")
            data = data[4:]
        if version == 2:
            data = data[:-4] if seen > 1 else data  # checksum: after chunk 0's declared size, inside OCHK
        pos = 0
        hdr = 8 if version == 1 else 4 + (2 if flags & 0x04 else 0)
        while pos + hdr <= len(data):
            if version == 1:
                mtype, msize = struct.unpack_from("<HH", data, pos)
            else:
                mtype, msize = data[pos], struct.unpack_from("<H", data, pos + 1)[0]
            body = data[pos + hdr : pos + hdr + msize]
            if len(body) != msize:
                raise HDF5Error("object header message runs past its block")
            pos += hdr + msize
            if version == 1:
                pos = (pos + 7) & ~7
            if mtype == MSG_CONTINUATION:
                caddr, clen = f.uint(body, 0, f.o), f.uint(body, f.o, f.l)
                blocks.append((caddr, clen, version, flags))
            elif mtype:
                out.append((mtype, body))
            if len(out) > 4 * MAX_ATTRIBUTES + 64:
                raise HDF5Error("too many object header messages")
    return out


def _attribute(f: _File, body: bytes) -> tuple[str, str | None]:
    """(name, value) of an attribute message; value None if it is not a scalar string."""
    if len(body) < 8:
        raise HDF5Error("attribute message truncated")
    version = body[0]
    name_size, type_size, space_size = struct.unpack_from("<HHH", body, 2)
    if version == 1:
        pos = 8

        def pad(n: int) -> int:
            return (n + 7) & ~7
    elif version in (2, 3):
        pos = 8 + (1 if version == 3 else 0)

        def pad(n: int) -> int:
            return n
    else:
        raise HDF5Error(f"unsupported attribute message version {version}")
    name = body[pos : pos + name_size].split(b"\0", 1)[0].decode("utf-8", errors="replace")
    pos += pad(name_size)
    dtype = body[pos : pos + type_size]
    pos += pad(type_size)
    space = body[pos : pos + space_size]
    pos += pad(space_size)
    data = body[pos:]
    if len(dtype) < 8 or len(space) < 2:
        raise HDF5Error(f"attribute {name!r} truncated")
    if not _is_scalar(space):
        return name, None
    cls = dtype[0] & 0x0F
    size = f.uint(dtype, 4, 4)
    if cls == 3:  # fixed-length string
        return name, data[:size].split(b"\0", 1)[0].decode("utf-8", errors="replace")
    if cls == 9 and dtype[1] & 0x0F == 1:  # variable-length string
        if len(data) < 4 + f.o + 4:
            raise HDF5Error(f"attribute {name!r}: value truncated")
        length = f.uint(data, 0, 4)
        collection, index = f.uint(data, 4, f.o), f.uint(data, 4 + f.o, 4)
        raw = _global_heap_object(f, collection, index)
        return name, raw[:length].decode("utf-8", errors="replace")
    return name, None


def _is_scalar(space: bytes) -> bool:
    version, rank = space[0], space[1]
    if version == 2:
        return (len(space) >= 4 and space[3] == 0) or rank == 0
    return rank == 0 or (rank == 1 and len(space) >= 16 and int.from_bytes(space[8:16], "little") == 1)


def _global_heap_object(f: _File, addr: int, index: int) -> bytes:
    head = f.read(addr, 8 + f.l, "global heap")
    if head[:4] != b"GCOL":
        raise HDF5Error(f"no global heap collection at address {addr}")
    size = f.uint(head, 8, f.l)
    if size > MAX_HEAP:
        raise HDF5Error(f"global heap collection of {size} bytes exceeds the limit")
    data = f.read(addr, size, "global heap")
    pos = 8 + f.l
    while pos + 8 + f.l <= len(data):
        obj_index = f.uint(data, pos, 2)
        obj_size = f.uint(data, pos + 8, f.l)
        if obj_index == 0:
            break
        start = pos + 8 + f.l
        if obj_index == index:
            if obj_size > MAX_VALUE or start + obj_size > len(data):
                raise HDF5Error(f"global heap object {index} is too large or truncated")
            return data[start : start + obj_size]
        pos = start + ((obj_size + 7) & ~7)
    raise HDF5Error(f"global heap object {index} not found")
