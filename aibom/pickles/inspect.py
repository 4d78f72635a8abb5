"""Find and judge every pickle in a file, through archives and compression, by content.

`inspect_blob` walks a file's layers (zip, tar, gzip/bz2/xz/lzma/zlib/lz4, .npy, torch zip and legacy formats,
joblib) within a budget, runs each pickle through the simulated machine and collects unsafe-code issues,
analysis failures, compression bombs, imports and tensor facts into one `Report`.
"""

from __future__ import annotations

import ast
import contextlib
import re
import struct
from dataclasses import dataclass, field

from ..containers import (
    DECOMPRESSED_CONTENT,
    MAX_DEPTH,
    ArchiveError,
    Blob,
    Budget,
    compression_of,
    decompress,
    is_tar,
    is_zip,
    tar_members,
    zip_member_blob,
    zip_members,
)
from ..inventory import ModelInfo, Severity
from .policy import imported, issues, well_formed
from .reader import Reader
from .tensors import legacy_storage_sizes, tensor_info
from .vm import START_OPCODES, Analysis, CallRec, GlobalRef, Opaque, analyse

#: The pickle torch writes first in a legacy (non-zip) file: protocol 2, LONG1 of the magic number, STOP.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
NPY_MAGIC = b"\x93NUMPY"
SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
#: Compressions aibom cannot read (no dependency for them): a pickle-named file in one is reported unreadable.
UNSUPPORTED_COMPRESSION = {b"\x28\xb5\x2f\xfd": "zstd"}
#: joblib's old compressed format (joblib.load still reads it): "ZF", the pickle's length in hex padded to 19
#: bytes (one more in files from Python 2), then a zlib stream of the pickle.
ZFILE_PREFIX = b"ZF"
PICKLE_NAMES = (
    ".pkl",
    ".pickle",
    ".joblib",
    ".dill",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".pdparams",
    ".pdopt",
    ".sav",
    ".p",
    ".data",
    ".mar",
    ".npy",
)
#: Pickle names that many other binaries use too: a broken old-protocol stream under one of them is claimed
#: as a pickle only when it imports a well-formed name (random bytes in a `.bin` otherwise read as a broken
#: pickle about once in a hundred files).
LOOSE_PICKLE_NAMES = (".bin", ".data", ".p", ".sav", ".mar")
MAX_NPY_HEADER = 65_536
_PY2_LONG = re.compile(r"\b(\d+)L\b")
MAX_TOTAL_MEMBERS = 2_000_000  # listed, all archives of a file together (more is a bomb)
MAX_INSPECTED = 100_000  # members whose content is looked at; beyond this the file is not fully analysed


@dataclass
class Problem:
    """An issue located in the file: `member` is the path inside archives ("" for the file itself)."""

    severity: Severity
    message: str
    member: str = ""
    offset: int | None = None
    symbol: str | None = None


@dataclass
class Report:
    layers: list[str] = field(default_factory=list)
    unsafe: list[Problem] = field(default_factory=list)
    unreadable: list[Problem] = field(default_factory=list)
    integrity: list[Problem] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    model: ModelInfo | None = None
    pickles: int = 0
    torchscript: bool = False
    code_members: list[str] = field(default_factory=list)
    estimator: str | None = None  # the class of a pickled top-level object (sklearn estimator ...)
    npy: list[tuple[str, str, tuple[int, ...]]] = field(default_factory=list)  # (member, descr, shape)
    members: int = 0

    def add_model(self, info: ModelInfo | None) -> None:
        if info is None:
            return
        if self.model is None:
            self.model = ModelInfo(parameter_count=0, tensor_count=0)
        self.model.parameter_count = (self.model.parameter_count or 0) + (info.parameter_count or 0)
        self.model.tensor_count = (self.model.tensor_count or 0) + (info.tensor_count or 0)
        for k, v in info.dtypes.items():
            self.model.dtypes[k] = self.model.dtypes.get(k, 0) + v


def _severity(exc: ArchiveError) -> Severity:
    return Severity.WARNING if exc.too_large else Severity.ERROR


def _where(member: str) -> str:
    return f" in {member}" if member else ""


def _file_offset(blob: Blob, off: int | None) -> int | None:
    if off is None or blob.base is None:
        return None
    return blob.base + off


def looks_like_pickle(head: bytes) -> bool:
    """A binary pickle (protocol 2+) starts with PROTO; older ones are tried only when asked."""
    return len(head) >= 2 and head[0] == 0x80 and head[1] <= 5


#: Compressed streams up to SMALL_STREAM bytes that decompress to at most SMALL_OUTPUT are read in one go.
SMALL_STREAM = 64 * 1024
SMALL_OUTPUT = 1 << 20
#: Pickles a format check analyses at most (scanners.pickle); an analysis that stopped short of this
#: many is the whole stream's.
IDENTIFY_PICKLES = 4


class Inspector:
    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.allowance = self.budget.remaining  # what a fresh budget holds (a zip after a file's start gets one)
        self.report = Report()
        self.inspected = 0
        self.known: tuple[Blob, Analysis] | None = None  # (blob, analysis of it from offset 0)

    def _analyse(self, blob: Blob, start: int, max_pickles: int, joblib: bool = True, required: int = 1) -> Analysis:
        """The analysis of `blob` from `start`: the known one when it is the same, else run now."""
        if self.known is not None and self.known[0] is blob and start == 0 and joblib and required == 1:
            a = self.known[1]
            self.known = None
            if a.pickles < IDENTIFY_PICKLES <= max_pickles:  # it ended on its own, as this run would
                return a
        reader = Reader(blob.read_at, blob.size, start)
        return analyse(reader, max_pickles=max_pickles, joblib=joblib, required=required)

    # -- pickles -------------------------------------------------------------------------------------
    def pickle(
        self,
        blob: Blob,
        member: str,
        *,
        start: int = 0,
        max_pickles: int = 256,
        designated: bool = True,
        torchscript: bool = False,
        depth: int = 0,
        joblib: bool = True,
        required: int = 1,
    ) -> Analysis | None:
        """Analyse the pickles in `blob` from `start` (`joblib`: as joblib.load reads them, with its arrays;
        False for streams only torch or numpy load, with plain unpicklers).

        An undesignated stream (content that merely may be a pickle) counts only when it imports a well-formed
        name; then it is reported like any other, including when it breaks later (a loader runs what came first).
        """
        a = self._analyse(blob, start, max_pickles, joblib, required)
        if not designated and not any(g.module is not None and well_formed(g.module, g.name or "") for g in a.globals):
            return None
        rep = self.report
        rep.pickles += a.pickles
        rep.imports.update(imported(a))
        for issue in issues(a, torchscript):
            rep.unsafe.append(
                Problem(
                    issue.severity,
                    issue.message + _where(member),
                    member,
                    _file_offset(blob, issue.offset),
                    issue.symbol,
                )
            )
        if a.error:
            got = f"; {a.pickles} complete pickle(s) before it were analysed" if a.pickles else ""
            rep.unreadable.append(
                Problem(
                    Severity.ERROR,
                    f"pickle{_where(member)} cannot be fully analysed: {a.error} (at offset {a.error_offset}){got}",
                    member,
                    _file_offset(blob, a.error_offset),
                )
            )
        self.nested_torch_files(blob, member, a, depth)
        root = a.results[0] if a.results else None
        if isinstance(root, CallRec) and isinstance(root.func, GlobalRef):
            cls = root.func
            if (
                cls.qualname in ("copyreg._reconstructor", "copy_reg._reconstructor")
                and isinstance(root.args, tuple)
                and root.args
            ):
                cls = root.args[0] if isinstance(root.args[0], GlobalRef) else cls  # protocol 0/1 objects
            rep.estimator = rep.estimator or cls.qualname
        return a

    def nested_torch_files(self, blob: Blob, member: str, a: Analysis, depth: int) -> None:
        """torch.storage._load_from_bytes(b) runs torch.load on b: inspect those bytes as a file of their own."""
        for call in a.calls:
            func = call.func
            if not (isinstance(func, GlobalRef) and func.qualname == "torch.storage._load_from_bytes"):
                continue
            arg = call.args[0] if isinstance(call.args, tuple) and call.args else None
            where = f"{member}[_load_from_bytes@{call.offset}]"
            if isinstance(arg, bytes):
                nested = Blob.of_bytes(arg)
            elif isinstance(arg, Opaque) and arg.offset is not None and arg.what == "bytes":
                nested = blob.window(arg.offset, arg.size)
            else:
                self.report.unreadable.append(
                    Problem(Severity.ERROR, f"_load_from_bytes{_where(member)} of a value aibom cannot follow", member)
                )
                continue
            if not self._inspect_one(where):
                return
            self.blob(nested, where, depth + 1, "nested.pt")

    # -- layers ------------------------------------------------------------------------------------------
    def blob(self, blob: Blob, member: str = "", depth: int = 0, name: str = "") -> None:
        """Inspect one byte range by its content."""
        head = blob.head(8192)
        rep = self.report
        if depth > MAX_DEPTH:
            rep.integrity.append(
                Problem(Severity.ERROR, f"archives nested deeper than {MAX_DEPTH} levels{_where(member)}", member)
            )
            return
        try:
            if is_zip(head):
                self.zip(blob, member, depth)
                return
            if blob.size >= 22 and blob.read_at(blob.size - 22, 4) == b"PK\x05\x06":
                self.zip_with_a_start(blob, head, member, depth, name)
            else:
                self.by_start(blob, head, member, depth, name)
        except ArchiveError as exc:
            self._archive_error(exc, member)

    def zip_with_a_start(self, blob: Blob, head: bytes, member: str, depth: int, name: str) -> None:
        """A zip with something before it (a self-extracting stub, or a pickle with a zip appended): zip
        readers open the archive, pickle.load and joblib.load read the file from its start, so both are
        inspected, each within its own decompression budget (one must not use up the other's). The start
        counts as a pickle by its content only: a stub under a pickle-like name is not a broken pickle."""
        try:
            self.by_start(blob, head, member, depth, name, designated=False)
        except ArchiveError as exc:
            self._archive_error(exc, member)
        budget, self.budget = self.budget, Budget(self.allowance)
        try:
            self.zip(blob, member, depth)
        finally:
            self.budget = budget

    def _archive_error(self, exc: ArchiveError, member: str) -> None:
        target = self.report.integrity if exc.bomb else self.report.unreadable
        target.append(Problem(_severity(exc), f"{exc}{_where(member)}", member))

    def by_start(self, blob: Blob, head: bytes, member: str, depth: int, name: str, designated: bool = True) -> None:
        """Inspect a byte range that is not a zip from its start, as pickle and joblib readers do
        (`designated`: a stream of pickle opcodes under a pickle-like name is one, even if it breaks)."""
        rep = self.report
        if head[:4] in UNSUPPORTED_COMPRESSION and name.lower().endswith(PICKLE_NAMES):
            kind = UNSUPPORTED_COMPRESSION[head[:4]]
            rep.layers.append(kind)
            rep.unreadable.append(
                Problem(Severity.ERROR, f"{kind}-compressed pickle{_where(member)} cannot be inspected", member)
            )
        elif head[:6] == SEVENZIP_MAGIC:
            rep.layers.append("7z")
            rep.unreadable.append(
                Problem(
                    Severity.ERROR,
                    f"7z archive{_where(member)} cannot be inspected by aibom; it may hide pickles",
                    member,
                )
            )
        elif head[:6] == NPY_MAGIC:
            self.npy(blob, member, depth)
        elif head.startswith(TORCH_LEGACY_MAGIC):
            rep.layers.append("pytorch-legacy")
            a = self.pickle(blob, member, max_pickles=5, depth=depth, joblib=False, required=5)
            if a:
                rep.add_model(tensor_info(a))
                if not a.error:
                    self.legacy_storages(blob, member, a)
        elif (zstart := zfile_start(head)) is not None:
            self.zfile(blob, member, depth, zstart)
        elif looks_like_pickle(head):
            rep.layers.append("joblib" if b"joblib.numpy_pickle" in head else "pickle")
            a = self.pickle(blob, member, depth=depth)
            if a:
                rep.add_model(tensor_info(a))
        elif is_tar(head):
            self.tar(blob, member, depth)
        elif kind := compression_of(head):
            self.compressed(blob, kind, member, depth, name)
        elif head[:1] and head[0] in START_OPCODES:
            designated = designated and name.lower().endswith(PICKLE_NAMES)
            a = self.pickle(blob, member, designated=designated, depth=depth)
            if a:
                rep.layers.append("pickle")
                rep.add_model(tensor_info(a))

    def legacy_storages(self, blob: Blob, member: str, a: Analysis) -> None:
        """After a legacy file's five pickles: per storage key, an int64 element count and the raw bytes."""
        keys = a.results[4] if len(a.results) == 5 else None
        sizes = legacy_storage_sizes(a)
        problem = None
        if not isinstance(keys, list) or sizes is None or not all(isinstance(k, str) and k in sizes for k in keys):
            problem = "storage keys do not match the storages the pickle references"
        else:
            pos = a.end
            for key in keys:
                raw = blob.read_at(pos, 8)
                if len(raw) < 8:
                    problem = f"storage {key!r} is missing (file ends at {blob.size})"
                    break
                pos += 8 + struct.unpack("<q", raw)[0] * sizes[key]
                if pos > blob.size or pos < a.end:
                    problem = f"storage {key!r} runs past the end of the file (truncated)"
                    break
        if problem:
            self.report.unreadable.append(
                Problem(Severity.ERROR, f"legacy torch file{_where(member)}: {problem}", member)
            )

    def zfile(self, blob: Blob, member: str, depth: int, start: int) -> None:
        """joblib's old format: one zlib-compressed pickle, read by an unpickler without inline arrays."""
        self.report.layers.append("joblib-zfile")
        with DECOMPRESSED_CONTENT:
            data = decompress(blob.window(start, blob.size - start), "zlib", self.budget)
            self.pickle(Blob.of_bytes(data), member + "[zfile]" if member else "[zfile]", depth=depth + 1, joblib=False)
            del data

    def compressed(self, blob: Blob, kind: str, member: str, depth: int, name: str) -> None:
        whole = self._small_stream(blob, kind)
        peek = bytes(whole[:8192]) if whole is not None else decompress(blob, kind, self.budget, limit=8192)
        inner_name = inner_name_of(name)
        if not peek:
            if kind in ("lzma", "zlib") and not name.lower().endswith(PICKLE_NAMES):
                return  # weak magics: probably not compressed at all
            raise ArchiveError(f"{kind} stream is corrupt or truncated")
        pickle_start = looks_like_pickle(peek) or old_protocol_pickle(peek, inner_name)
        interesting = (
            pickle_start
            or is_zip(peek)
            or is_tar(peek)
            or peek[:6] in (NPY_MAGIC, SEVENZIP_MAGIC)
            or compression_of(peek) not in (None, "lzma", "zlib")
        )
        if not interesting:
            return
        self.report.layers.append(kind)
        with DECOMPRESSED_CONTENT:
            where = member + f"[{kind}]" if member else f"[{kind}]"
            if whole is not None:
                self.budget.spend(len(whole))  # within what is left: checked when it was decompressed
            else:
                try:
                    whole = decompress(blob, kind, self.budget)
                except ArchiveError as exc:
                    if exc.partial and pickle_start:  # a reader hands on what came before the error
                        self.blob(Blob.of_bytes(exc.partial), where, depth + 1, inner_name)
                    exc.partial = None  # freed under the lock, not when the error is reported
                    raise
            self.blob(Blob.of_bytes(whole), where, depth + 1, inner_name)
            del whole

    def _small_stream(self, blob: Blob, kind: str) -> bytes | bytearray | None:
        """A small stream (most compressed joblib files) decompressed whole, at once: a peek and then the
        whole stream would start the decompressor twice. None when it is not small, when it is corrupt,
        truncated or larger than SMALL_OUTPUT (then the peek and the full read decide and report, as for
        any stream), or when it would not fit what is left of the budget (which it is not charged to yet)."""
        if blob.size > SMALL_STREAM:
            return None
        try:
            whole = decompress(blob, kind, Budget(SMALL_OUTPUT))
        except ArchiveError:
            return None
        return whole if len(whole) <= self.budget.remaining else None

    def _count_members(self, n: int) -> None:
        self.report.members += n
        if self.report.members > MAX_TOTAL_MEMBERS:
            raise ArchiveError(f"more than {MAX_TOTAL_MEMBERS} archive members in all", bomb=True)

    def zip(self, blob: Blob, member: str, depth: int) -> None:
        members = zip_members(blob)
        self._count_members(len(members))
        if members and members[0].from_local:
            self.report.unreadable.append(
                Problem(
                    Severity.ERROR,
                    f"zip{_where(member)} has no usable central directory (truncated or "
                    "damaged); members were read from their local headers",
                    member,
                )
            )
        names = [m.name for m in members]
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        torchscript = any("/code/" in n or n.startswith("code/") for n in names) and bool(pkl)
        rep = self.report
        if torchscript:
            rep.layers.append("torchscript")
            rep.torchscript = True
            rep.code_members += [member + "!" + n if member else n for n in names if "code/" in n and n.endswith(".py")]
        elif pkl:
            rep.layers.append("pytorch-zip")
        elif names and all(n.endswith(".npy") for n in names):
            rep.layers.append("npz")
        else:
            rep.layers.append("zip")
        for m in members:
            if m.name.endswith("/") or (m.usize == 0 and m.csize == 0):
                continue
            path = f"{member}!{m.name}" if member else m.name
            if not self._inspect_one(path):
                break
            try:
                peek = zip_member_blob(blob, m, self.budget, peek=8192)
                head = peek.head(8192)
                torch_pickle = m.name in pkl or (torchscript and m.name.endswith("constants.pkl"))
                if torch_pickle or self._worth_reading(head, m.name):
                    with DECOMPRESSED_CONTENT if m.method != 0 else contextlib.nullcontext():
                        inner = zip_member_blob(blob, m, self.budget) if m.method != 0 else peek
                        if torch_pickle:
                            a = self.pickle(inner, path, torchscript=torchscript, depth=depth + 1, joblib=False)
                            if a and m.name in pkl:
                                rep.add_model(tensor_info(a))
                        else:
                            self.blob(inner, path, depth + 1, m.name)
                        del inner
            except ArchiveError as exc:
                target = rep.integrity if exc.bomb else rep.unreadable
                target.append(Problem(_severity(exc), f"{exc}{_where(path)}", path))

    def _inspect_one(self, path: str) -> bool:
        """Count one member looked at; False (and a finding, once) when the limit is reached."""
        self.inspected += 1
        if self.inspected <= MAX_INSPECTED:
            return True
        if self.inspected == MAX_INSPECTED + 1:
            self.report.unreadable.append(
                Problem(
                    Severity.WARNING,
                    f"more than {MAX_INSPECTED} archive members; the rest (from {path}) were not inspected",
                    path,
                )
            )
        return False

    @staticmethod
    def _worth_reading(head: bytes, name: str) -> bool:
        """Whether a member's first bytes can start something that may run code on load."""
        if not head:
            return False
        if (
            looks_like_pickle(head)
            or is_zip(head)
            or is_tar(head)
            or head[:6] in (NPY_MAGIC, SEVENZIP_MAGIC)
            or compression_of(head) not in (None, "zlib", "lzma")
        ):
            return True
        if compression_of(head) is not None or head[:4] in UNSUPPORTED_COMPRESSION:
            return name.lower().endswith(PICKLE_NAMES)
        return old_protocol_pickle(head, name)

    def tar(self, blob: Blob, member: str, depth: int) -> None:
        members = tar_members(blob)
        self._count_members(len(members))
        names = {m.name for m in members}
        self.report.layers.append("pytorch-legacy-tar" if {"pickle", "storages"} <= names else "tar")
        for m in members:
            path = f"{member}!{m.name}" if member else m.name
            if not self._inspect_one(path):
                break
            inner = blob.window(m.offset, m.size)
            if m.name == "storages":  # a count, then per storage a pickled header and raw bytes
                self.pickle(inner, path, max_pickles=1, depth=depth + 1, joblib=False)
                continue
            if self._worth_reading(inner.head(8192), m.name):
                self.blob(inner, path, depth + 1, m.name)

    def npy(self, blob: Blob, member: str, depth: int = 0) -> None:
        """A .npy header; an object array is followed by a pickle, which is analysed."""
        rep = self.report
        rep.layers.append("npy")
        head = blob.head(12)
        if len(head) < 10:
            raise ArchiveError(f"npy{_where(member)} truncated in its preamble")
        major = head[6]
        if major == 1:
            (hlen,), start = struct.unpack_from("<H", head, 8), 10
        elif major in (2, 3) and len(head) >= 12:
            (hlen,), start = struct.unpack_from("<I", head, 8), 12
        else:
            raise ArchiveError(f"npy{_where(member)} has unknown format version {major}")
        if hlen > MAX_NPY_HEADER or start + hlen > blob.size:
            raise ArchiveError(f"npy{_where(member)} header length {hlen} is too large or runs past the end")
        text = blob.read_at(start, hlen).decode("latin-1" if major < 3 else "utf-8", "replace")
        try:
            try:
                header = ast.literal_eval(text)
            except SyntaxError:
                if major != 1:
                    raise
                header = ast.literal_eval(_PY2_LONG.sub(r"\1", text))  # Python 2 writers: (3L, 4L)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as exc:
            raise ArchiveError(f"npy{_where(member)} header is not a Python literal ({type(exc).__name__})") from None
        descr, shape = (header.get("descr"), header.get("shape")) if isinstance(header, dict) else (None, None)
        if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
            raise ArchiveError(f"npy{_where(member)} header has no valid shape")
        rep.npy.append((member, repr(descr) if not isinstance(descr, str) else descr, shape))
        if "O" in repr(descr):
            self.pickle(blob, member, start=start + hlen, max_pickles=1, depth=depth, joblib=False)


def old_protocol_pickle(head: bytes, name: str = "") -> bool:
    """Whether `head` starts an old-protocol pickle: it starts with a pickle opcode and is named like a
    pickle, or, by content alone, it parses and imports a well-formed name."""
    if not head or head[0] not in START_OPCODES:
        return False
    if name.lower().endswith(PICKLE_NAMES):
        return True
    a = analyse(Reader.of_bytes(head), max_pickles=2)
    imports = [g for g in a.globals if g.module is not None and well_formed(g.module, g.name or "")]
    return bool(imports) and (a.error is None or a.error.startswith("truncated"))


#: Names joblib and others give compressed files: the name inside is the name without it.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".lzma", ".z", ".lz4")


def inner_name_of(name: str) -> str:
    """The name of what a compressed file holds (model.pkl.gz -> model.pkl)."""
    return name.rsplit(".", 1)[0] if name.lower().endswith(COMPRESSED_SUFFIXES) else name


def zfile_start(head: bytes) -> int | None:
    """Where the zlib stream of a joblib "ZF" file starts, or None if `head` is not one."""
    if head[:2] != ZFILE_PREFIX:
        return None
    try:
        int(head[2:21], 16)
    except ValueError:
        return None
    start = 22 if head[21:22] == b" " else 21  # joblib skips one more space (Python 2 files)
    return start if is_zlib_header(head[start : start + 2]) else None


def is_zlib_header(two: bytes) -> bool:
    """Whether `two` opens a stream that zlib.decompress(data, 15) accepts: deflate, a window of at most
    32 KiB, a valid check and no preset dictionary (any window size, not only the usual 0x78)."""
    if len(two) < 2:
        return False
    cmf, flg = two[0], two[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0 and not flg & 0x20


def inspect_blob(blob: Blob, name: str = "", known: Analysis | None = None) -> Report:
    """Inspect a whole file (or any byte range) and return what was found. `known`: the analysis of the
    blob's whole content from its first byte with IDENTIFY_PICKLES pickles at most (made to identify it)."""
    ins = Inspector()
    if known is not None:
        ins.known = (blob, known)
    ins.blob(blob, "", 0, name)
    return ins.report
