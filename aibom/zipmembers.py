"""A small, bounded zip reader: list the central directory and read a few small members.

Used by formats that are zips with a known layout (`.keras`) or that hide one (llamafile). The end
record is searched only in the last 64 KiB, the directory size and entry count are capped before
anything is read, and a member is decompressed only up to a caller-given limit (a bomb stops there).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .sniff import Probe

EOCD = b"PK\x05\x06"
EOCD64_LOCATOR = b"PK\x06\x07"
EOCD64 = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"
MAX_DIRECTORY = 16 << 20
MAX_ENTRIES = 100_000
TAIL = 65536 + 22


class ZipError(ValueError):
    """Not a readable zip, or beyond the limits; the message says why."""


@dataclass(frozen=True)
class Member:
    name: str
    method: int
    flags: int
    compressed: int
    size: int
    local_offset: int  # of the local header, in file coordinates


def members(probe: Probe) -> list[Member]:
    """The central directory's entries (any archive prefix, zip64 included)."""
    tail_start = max(0, probe.size - TAIL)
    tail = probe.read(tail_start, probe.size - tail_start)
    at = tail.rfind(EOCD)
    if at < 0 or at + 22 > len(tail):
        raise ZipError("no end of central directory record")
    count, cd_size, cd_offset = struct.unpack_from("<HII", tail, at + 10)
    eocd_pos = tail_start + at
    if 0xFFFFFFFF in (cd_size, cd_offset) or count == 0xFFFF:
        loc = tail_start + at - 20
        locator = probe.read(loc, 20) if loc >= 0 else b""
        if locator[:4] != EOCD64_LOCATOR:
            raise ZipError("zip64 end record locator missing")
        (eocd64_pos,) = struct.unpack_from("<Q", locator, 8)
        rec = probe.read(eocd64_pos, 56)
        if rec[:4] != EOCD64 or len(rec) < 56:
            raise ZipError("zip64 end record missing")
        count, cd_size, cd_offset = struct.unpack_from("<QQQ", rec, 32)
        eocd_pos = eocd64_pos
    if count > MAX_ENTRIES or cd_size > MAX_DIRECTORY:
        raise ZipError(f"central directory of {count} entries / {cd_size} bytes exceeds the limits")
    # Archives with a prefix (an executable, a user block) keep offsets relative to the zip's start.
    shift = eocd_pos - cd_size - cd_offset
    if shift < 0:
        raise ZipError("central directory lies outside the file")
    data = probe.read(cd_offset + shift, cd_size)
    if len(data) != cd_size:
        raise ZipError("central directory truncated")
    out: list[Member] = []
    pos = 0
    for _ in range(count):
        if data[pos : pos + 4] != CENTRAL or pos + 46 > len(data):
            raise ZipError(f"bad central directory entry at byte {pos}")
        flags, method = struct.unpack_from("<HH", data, pos + 8)
        compressed, size, name_len, extra_len, comment_len = struct.unpack_from("<IIHHH", data, pos + 20)
        (local,) = struct.unpack_from("<I", data, pos + 42)
        name = data[pos + 46 : pos + 46 + name_len].decode("utf-8", errors="replace")
        extra = data[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        compressed, size, local = _zip64(extra, compressed, size, local)
        out.append(Member(name, method, flags, compressed, size, local + shift))
        pos += 46 + name_len + extra_len + comment_len
        if pos > len(data):
            raise ZipError("central directory entry runs past the directory")
    return out


def _zip64(extra: bytes, compressed: int, size: int, local: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            vals = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            if size == 0xFFFFFFFF and vals:
                size = vals.pop(0)
            if compressed == 0xFFFFFFFF and vals:
                compressed = vals.pop(0)
            if local == 0xFFFFFFFF and vals:
                local = vals.pop(0)
        pos += 4 + length
    return compressed, size, local


def read_member(probe: Probe, member: Member, limit: int) -> bytes:
    """A member's content, at most `limit` bytes once decompressed (ZipError beyond that)."""
    header = probe.read(member.local_offset, 30)
    if header[:4] != LOCAL or len(header) < 30:
        raise ZipError(f"{member.name}: no local file header")
    if member.flags & 1:
        raise ZipError(f"{member.name}: encrypted")
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    start = member.local_offset + 30 + name_len + extra_len
    if member.method == 0:
        if member.compressed > limit:
            raise ZipError(f"{member.name}: larger than {limit} bytes")
        data = probe.read(start, member.compressed)
        if len(data) != member.compressed:
            raise ZipError(f"{member.name}: truncated")
        return data
    if member.method != 8:
        raise ZipError(f"{member.name}: unsupported compression method {member.method}")
    if member.compressed > 4 * limit + 1024:
        raise ZipError(f"{member.name}: compressed size {member.compressed} is out of proportion")
    raw = probe.read(start, member.compressed)
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ZipError(f"{member.name}: corrupt deflate data ({exc})") from None
    if len(data) > limit:
        raise ZipError(f"{member.name}: decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise ZipError(f"{member.name}: truncated deflate data")
    return data
