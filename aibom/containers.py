"""Archive and compression layers read by content: zip (incl. zip64), tar, gzip/bz2/xz/lzma/zlib/lz4.

Readers are tolerant the way loaders are (torch ignores CRCs and most flag bits, so do we) and strict about
size: member counts, decompressed bytes and nesting depth are bounded by the caller's `Budget`. Nothing is
extracted to disk; stored zip members are read in place, compressed ones decompressed in bounded chunks.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

ReadAt = Callable[[int, int], bytes]

MAX_MEMBERS = 1_000_000
MAX_DEPTH = 4
MAX_DECOMPRESSED = 512 * 1024 * 1024  # per scanned file, all layers together
CHUNK = 1 << 20


#: Held while a thread decompresses a whole stream and inspects it: the budget above is per scanned file,
#: so without this every worker thread could hold one budget's worth of decompressed bytes at once.
#: Re-entrant: nested containers in the same file take it again.
DECOMPRESSED_CONTENT = threading.RLock()


#: Output per decompressor call: `out` then grows in place instead of copying one huge chunk into it.
OUT_STEP = 1 << 20


class ArchiveError(Exception):
    """The archive is malformed or exceeds a limit; `bomb` marks limit violations (integrity)."""

    def __init__(
        self, message: str, bomb: bool = False, too_large: bool = False, partial: bytes | bytearray | None = None
    ) -> None:
        super().__init__(message)
        self.bomb = bomb
        self.too_large = too_large  # plausible content beyond aibom's limits: not inspected, not corrupt
        self.partial = partial  # what a stream decompressed to before the error, when that is worth reading


@dataclass
class Blob:
    """A byte range: a whole file, a stored member in place, or decompressed bytes."""

    read_at: ReadAt
    size: int
    base: int | None = 0  # offset of byte 0 in the scanned file, None when decompressed

    @classmethod
    def of_bytes(cls, data: bytes | bytearray) -> Blob:
        view = memoryview(data)
        return cls(lambda off, n: bytes(view[off : off + n]), len(data), None)

    def head(self, n: int = 8192) -> bytes:
        return self.read_at(0, min(n, self.size))

    def window(self, start: int, size: int) -> Blob:
        outer = self.read_at

        def read_at(off: int, n: int) -> bytes:
            n = max(0, min(n, size - off))
            return outer(start + off, n) if n else b""

        return Blob(read_at, size, None if self.base is None else self.base + start)


@dataclass
class Budget:
    """Decompressed bytes still allowed for this file."""

    remaining: int = MAX_DECOMPRESSED

    def spend(self, n: int) -> None:
        self.remaining -= n
        if self.remaining < 0:
            raise ArchiveError(f"decompresses to more than {MAX_DECOMPRESSED} bytes (compression bomb?)", bomb=True)


# -- compression wrappers ----------------------------------------------------------------------------


LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"


def compression_of(head: bytes) -> str | None:
    """The compression wrapper a stream starts with, by magic."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:2] == b"\x5d\x00" and len(head) >= 13:  # LZMA-alone, any dictionary size (joblib's own test)
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if head[:4] == LZ4_FRAME_MAGIC:
        return "lz4"
    return None


#: How a stream may be followed by another in the same file, as Python's readers go on (joblib.load reads
#: bzip2, xz/lzma and lz4 through BZ2File, LZMAFile and LZ4FrameFile): "magic", only a stream with the same
#: magic (gzip members); "lenient", anything, but bytes whose first read fails are trailing data, ignored
#: (BZ2File, LZMAFile: the next stream of an LZMAFile may be xz or LZMA-alone with any properties); "strict",
#: anything, which must decode (LZ4FrameFile: skippable frames included).
_FOLLOW = {"gzip": "magic", "bzip2": "lenient", "xz": "lenient", "lzma": "lenient", "lz4": "strict"}
#: Python's BZ2File/LZMAFile read 8 KiB blocks (3.11's io.DEFAULT_BUFFER_SIZE) and hand out 8 KiB at a time:
#: a following stream's first read, whose failure makes the rest trailing data, is modelled on that. It also
#: keeps many tiny streams from each costing a full chunk.
FOLLOW_READ = 8192
#: Concatenated streams followed in one file; more is unreadable (a reader would go on).
MAX_STREAMS = 10_000


def _decompressor(kind: str, following: bool = False):  # type: ignore[no-untyped-def]
    """A decompressor for `kind`; `following`: for a stream after another (LZMAFile then takes either format)."""
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "zlib":
        return zlib.decompressobj()
    if kind == "deflate":
        return zlib.decompressobj(-zlib.MAX_WBITS)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind in ("xz", "lzma"):
        fmt = lzma.FORMAT_AUTO if following else lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE
        return lzma.LZMADecompressor(fmt)
    if kind == "lz4":
        try:
            import lz4.frame  # only when an lz4 frame is met
        except ImportError:
            raise ArchiveError("lz4 stream cannot be read: the lz4 package is not installed") from None
        return lz4.frame.LZ4FrameDecompressor()
    raise ArchiveError(f"unsupported compression {kind}")


#: What decompressors raise on bad input (lz4: RuntimeError).
_DECODE_ERRORS = (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, RuntimeError)


def decompress(blob: Blob, kind: str, budget: Budget, limit: int | None = None) -> bytes | bytearray:
    """Decompress `blob` within the budget, following concatenated streams as Python's readers do (_FOLLOW).

    With `limit`, stop after that many output bytes (a peek, corrupt tails tolerated); otherwise the whole
    stream, or an ArchiveError when it is corrupt, truncated or larger than the budget (when corrupt or
    truncated, with what was decompressed before the error as its `partial`: a reader has handed those
    bytes on by then).
    """
    cap = limit if limit is not None else budget.remaining
    out = bytearray()
    pos = 0
    d = _decompressor(kind)
    pending = b""  # zlib: input read but not consumed yet
    streams = 1
    first = False  # the current stream follows another and has not been read from yet
    ended = False  # what follows the last stream is trailing data
    try:
        while True:
            # a following stream's first read is what is left of the reader's current 8 KiB block (those
            # readers read a file in 8 KiB blocks and start the next stream on the rest of the block)
            want = FOLLOW_READ - pos % FOLLOW_READ if first else CHUNK
            if hasattr(d, "unconsumed_tail"):  # zlib
                if not pending:
                    pending = blob.read_at(pos, want) if pos < blob.size else b""
                    pos += len(pending)
                chunk = d.decompress(pending, min(cap - len(out) + 1, OUT_STEP))
                if not pending and not chunk:
                    break  # input used up and nothing more held back by the output limit
                pending = d.unconsumed_tail
            else:  # bz2 / lzma / lz4
                data = b""
                if d.needs_input:
                    data = blob.read_at(pos, want) if pos < blob.size else b""
                    pos += len(data)
                    if not data:
                        break
                try:
                    chunk = d.decompress(data, min(cap - len(out) + 1, FOLLOW_READ if first else OUT_STEP))
                except _DECODE_ERRORS:
                    if first and _FOLLOW[kind] == "lenient":
                        ended = True  # BZ2File and LZMAFile ignore a next stream whose first read fails
                        break
                    raise
            first = False
            out += chunk
            if len(out) > cap:
                if limit is not None:
                    return bytes(out[:limit])
                ratio = len(out) / max(1, pos - len(pending))
                out.clear()  # freed now, under the caller's lock: the exception's traceback outlives the lock
                raise ArchiveError(
                    f"{kind} stream decompresses to more than the {cap}-byte limit"
                    + (f" at a ratio of {ratio:.0f}:1 (compression bomb)" if ratio > 100 else "; not inspected"),
                    bomb=ratio > 100,
                    too_large=ratio <= 100,
                )
            if d.eof:
                end = pos - len(d.unused_data or b"")  # zlib: at a stream's end unconsumed_tail is in unused_data
                how = _FOLLOW.get(kind)
                if end >= blob.size or how is None or (how == "magic" and blob.read_at(end, 2) != b"\x1f\x8b"):
                    ended = True
                    break
                streams += 1
                if streams > MAX_STREAMS:
                    if limit is not None and out:
                        return bytes(out[:limit])
                    raise ArchiveError(f"{kind} file has more than {MAX_STREAMS} concatenated streams", partial=out)
                pos, pending, first = end, b"", True
                d = _decompressor(kind, following=True)
    except _DECODE_ERRORS as exc:
        if limit is not None and out:
            return bytes(out[:limit])
        raise ArchiveError(f"{kind} stream is corrupt ({exc})", partial=out) from None
    if limit is not None:
        return bytes(out[:limit])
    if not ended and not d.eof:
        raise ArchiveError(f"{kind} stream is truncated", partial=out)
    budget.spend(len(out))
    return out  # not copied: a whole stream may be hundreds of MiB


# -- zip -----------------------------------------------------------------------------------------------


@dataclass
class ZipMember:
    name: str
    method: int
    flags: int
    csize: int
    usize: int
    local_offset: int
    from_local: bool = False


_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"
_CEN = b"PK\x01\x02"
_LOC = b"PK\x03\x04"


def is_zip(head: bytes) -> bool:
    return head[:4] in (_LOC, _EOCD, b"PK\x07\x08")


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            vals = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
            it = iter(vals)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + length
    return usize, csize, offset


def zip_members(blob: Blob) -> list[ZipMember]:
    """The central directory's entries (zip64 aware); falls back to walking local headers.

    Members read from local headers are marked `from_local` (the archive lacks a usable central directory:
    truncated or damaged), so callers can report the file as not fully verifiable.
    """
    tail_len = min(blob.size, 65_535 + 22)
    tail = blob.read_at(blob.size - tail_len, tail_len)
    idx = tail.rfind(_EOCD)
    if idx < 0 or len(tail) - idx < 22:
        return _walk_local_headers(blob)
    eocd_at = blob.size - tail_len + idx
    _, _, _, _, count, cd_size, cd_offset, _ = struct.unpack_from("<4sHHHHIIH", tail, idx)
    if eocd_at >= 20:
        loc = blob.read_at(eocd_at - 20, 20)
        if loc[:4] == _EOCD64_LOC:
            (rec_at,) = struct.unpack_from("<Q", loc, 8)
            rec = blob.read_at(rec_at, 56) if rec_at < blob.size else b""
            if rec[:4] == b"PK\x06\x06" and len(rec) == 56:
                count, cd_size, cd_offset = struct.unpack_from("<QQQ", rec, 32)
    if count > MAX_MEMBERS:
        raise ArchiveError(f"zip declares {count} members (limit {MAX_MEMBERS})", bomb=True)
    if cd_size > 64 * 1024 * 1024:
        raise ArchiveError("zip central directory larger than 64 MiB", bomb=True)
    shift = 0
    cd = blob.read_at(cd_offset, cd_size) if cd_offset + cd_size <= blob.size else b""
    if count and cd[:4] != _CEN:
        # something prepended (self-extracting, polyglot) shifts every offset by the same amount
        end = eocd_at - (76 if eocd_at >= 20 and blob.read_at(eocd_at - 20, 4) == _EOCD64_LOC else 0)
        shift = end - cd_size - cd_offset
        if shift <= 0:
            return _walk_local_headers(blob)
        cd = blob.read_at(cd_offset + shift, cd_size)
    members: list[ZipMember] = []
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == _CEN:
        (_, _, _, flags, method, _, _, _, csize, usize, nlen, xlen, clen, _, _, _, offset) = struct.unpack_from(
            "<4sHHHHHHIIIHHHHHII", cd, pos
        )
        name_raw = cd[pos + 46 : pos + 46 + nlen]
        extra = cd[pos + 46 + nlen : pos + 46 + nlen + xlen]
        usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
        name = name_raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        members.append(ZipMember(name, method, flags, csize, usize, offset + shift))
        if len(members) > MAX_MEMBERS:
            raise ArchiveError(f"zip has more than {MAX_MEMBERS} members", bomb=True)
        pos += 46 + nlen + xlen + clen
    if not members and count:
        return _walk_local_headers(blob)
    return members


def _walk_local_headers(blob: Blob) -> list[ZipMember]:
    """No usable central directory: read local headers one after another (sizes must be known)."""
    members: list[ZipMember] = []
    pos = 0
    while pos + 30 <= blob.size:
        hdr = blob.read_at(pos, 30)
        if hdr[:4] != _LOC:
            break
        _, _, flags, method, _, _, _, csize, usize, nlen, xlen = struct.unpack("<4sHHHHHIIIHH", hdr)
        rest = blob.read_at(pos + 30, nlen + xlen)
        usize, csize, _ = _zip64_extra(rest[nlen:], usize, csize, 0)
        name = rest[:nlen].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if flags & 0x8 and csize == 0:
            csize = _find_descriptor(blob, pos + 30 + nlen + xlen)
            usize = usize or csize
        members.append(ZipMember(name, method, flags, csize, usize, pos, from_local=True))
        if len(members) > MAX_MEMBERS:
            raise ArchiveError(f"zip has more than {MAX_MEMBERS} members", bomb=True)
        pos += 30 + nlen + xlen + csize
    if not members:
        raise ArchiveError("no zip central directory and no local file headers")
    return members


MAX_DESCRIPTOR_SEARCH = 256 * 1024 * 1024


def _find_descriptor(blob: Blob, start: int) -> int:
    """A member's compressed size from the data descriptor after it (found by signature and consistency)."""
    pos = start
    while pos < blob.size and pos - start < MAX_DESCRIPTOR_SEARCH:
        chunk = blob.read_at(pos, CHUNK + 24)
        idx = chunk.find(b"PK\x07\x08")
        while 0 <= idx <= CHUNK:
            at = pos + idx
            if len(chunk) >= idx + 24:
                c32, c64 = struct.unpack_from("<I", chunk, idx + 8)[0], struct.unpack_from("<Q", chunk, idx + 8)[0]
                if at - start in (c32, c64):
                    return at - start
            idx = chunk.find(b"PK\x07\x08", idx + 1)
        pos += CHUNK
    raise ArchiveError("zip without a central directory: a member's data descriptor was not found")


_METHODS = {8: "deflate", 12: "bzip2", 14: "lzma-zip"}


def zip_member_blob(blob: Blob, m: ZipMember, budget: Budget, peek: int | None = None) -> Blob:
    """A member's content: stored members in place; compressed ones decompressed (fully, or `peek` bytes)."""
    hdr = blob.read_at(m.local_offset, 30)
    if hdr[:4] != _LOC:
        raise ArchiveError(f"member {m.name!r}: no local header at offset {m.local_offset}")
    nlen, xlen = struct.unpack_from("<HH", hdr, 26)
    start = m.local_offset + 30 + nlen + xlen
    if m.flags & 0x1 and m.method != 0:
        raise ArchiveError(f"member {m.name!r} is encrypted")
    # a stored member flagged as encrypted is read as is: loaders that ignore the flag (torch) would too
    if start + m.csize > blob.size:
        raise ArchiveError(f"member {m.name!r} runs past the end of the archive")
    raw = blob.window(start, m.csize)
    if m.method == 0:
        return raw
    if m.method == 14:
        # zip's LZMA: 2-byte version, 2-byte properties size, properties, then raw LZMA1 data
        head = raw.read_at(0, 4)
        psize = struct.unpack_from("<H", head, 2)[0] if len(head) == 4 else 0
        props = raw.read_at(4, psize)
        try:
            filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # type: ignore[attr-defined]
        except (lzma.LZMAError, ValueError) as exc:
            raise ArchiveError(f"member {m.name!r}: bad LZMA properties ({exc})") from None
        data = raw.read_at(4 + psize, m.csize - 4 - psize)
        try:
            out = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt]).decompress(
                data, peek if peek is not None else budget.remaining + 1
            )
        except lzma.LZMAError as exc:
            raise ArchiveError(f"member {m.name!r}: corrupt LZMA data ({exc})") from None
        if peek is None:
            budget.spend(len(out))
        return Blob.of_bytes(out)
    if m.method not in _METHODS:
        raise ArchiveError(f"member {m.name!r} uses unsupported compression method {m.method}")
    return Blob.of_bytes(decompress(raw, _METHODS[m.method], budget, peek))


# -- tar -----------------------------------------------------------------------------------------------


@dataclass
class TarMember:
    name: str
    offset: int
    size: int


#: Every byte `int(text, 8)` accepts (digits, whitespace, sign, underscore, the 0o prefix), and NUL, read as
#: a space. tarfile reads the checksum with int() too, so a field such as "0o140153" opens as a tar.
_OCTAL_FIELD = b"01234567 \t\n\v\f\r+-_oO\x00"


def is_tar(head: bytes) -> bool:
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    if head[148:156].translate(None, _OCTAL_FIELD):
        return False  # a byte `int(field, 8)` below rejects anyway: skip the sums
    try:  # v7 tar: a valid header checksum
        stored = int(head[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 256 + sum(head[156:512])


def tar_members(blob: Blob) -> list[TarMember]:
    """Regular-file members of a tar (ustar, GNU long names, pax headers), by walking 512-byte headers."""
    members: list[TarMember] = []
    pos = 0
    long_name: str | None = None
    while pos + 512 <= blob.size:
        hdr = blob.read_at(pos, 512)
        if hdr == b"\x00" * 512:
            break
        try:
            size_field = hdr[124:136]
            if size_field[0] & 0x80:  # base-256 for huge members
                size = int.from_bytes(size_field[1:], "big")
            else:
                size = int(size_field.replace(b"\x00", b" ").strip() or b"0", 8)
        except ValueError:
            raise ArchiveError(f"tar header at {pos}: bad size field") from None
        kind = hdr[156:157]
        name = hdr[:100].split(b"\x00", 1)[0]
        prefix = hdr[345:500].split(b"\x00", 1)[0] if hdr[257:262] == b"ustar" else b""
        full = ((prefix + b"/" + name) if prefix else name).decode("utf-8", "replace")
        data_at = pos + 512
        if data_at + size > blob.size:
            raise ArchiveError(f"tar member {full!r} runs past the end of the archive")
        if kind == b"L":
            long_name = blob.read_at(data_at, min(size, 4096)).split(b"\x00", 1)[0].decode("utf-8", "replace")
        elif kind in (b"0", b"\x00", b"7"):
            members.append(TarMember(long_name or full, data_at, size))
            long_name = None
            if len(members) > MAX_MEMBERS:
                raise ArchiveError(f"tar has more than {MAX_MEMBERS} members", bomb=True)
        else:
            long_name = None if kind != b"x" else long_name
        pos = data_at + (size + 511) // 512 * 512
    return members
