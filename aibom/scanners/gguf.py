"""GGUF (llama.cpp): header, every key/value, tensor table; never the tensor data.

Layout: "GGUF", u32 version, tensor_count, kv_count (u32 in version 1, u64 after), the key/value
pairs, the tensor infos, then aligned data. Files may be big-endian (the magic stays as is, the
numbers flip). Every count and length is checked against the bytes left before it is used.
"""

from __future__ import annotations

import functools
import json
import re
import struct
from collections.abc import Callable
from typing import Any

from ..bytecursor import CHUNK, Cursor, Truncated
from ..inventory import Category, Finding, Kind, License, ModelInfo, Severity
from ..license_ids import spdx_expression
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput

MAGIC = b"GGUF"
#: Everything before the tensor data: big vocabularies take a few MB; refuse absurd headers.
MAX_HEADER = 128 << 20
MAX_STRING = 64 << 20
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 8
#: Longest value recorded as a property (the chat template is kept whole up to this size).
MAX_PROPERTY = 64 << 10
#: Arrays with at most this many scalar/string items are recorded in full.
SMALL_ARRAY = 16

# value type -> (struct code, size); 8 = string and 9 = array are handled apart.
_SCALARS = {
    0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4),
    6: ("f", 4), 7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8),
}  # fmt: skip
STRING, ARRAY = 8, 9
TYPE_NAMES = {
    0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32", 6: "float32",
    7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64", 12: "float64",
}  # fmt: skip

#: ggml tensor types (ggml.h `enum ggml_type`).
GGML_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
    30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0",
}  # fmt: skip

#: `general.file_type` (llama.h `enum llama_ftype`) -> quantization name.
FILE_TYPES = {
    0: "ALL_F32", 1: "MOSTLY_F16", 2: "MOSTLY_Q4_0", 3: "MOSTLY_Q4_1", 4: "MOSTLY_Q4_1_SOME_F16",
    7: "MOSTLY_Q8_0", 8: "MOSTLY_Q5_0", 9: "MOSTLY_Q5_1", 10: "MOSTLY_Q2_K", 11: "MOSTLY_Q3_K_S",
    12: "MOSTLY_Q3_K_M", 13: "MOSTLY_Q3_K_L", 14: "MOSTLY_Q4_K_S", 15: "MOSTLY_Q4_K_M",
    16: "MOSTLY_Q5_K_S", 17: "MOSTLY_Q5_K_M", 18: "MOSTLY_Q6_K", 19: "MOSTLY_IQ2_XXS",
    20: "MOSTLY_IQ2_XS", 21: "MOSTLY_Q2_K_S", 22: "MOSTLY_IQ3_XS", 23: "MOSTLY_IQ3_XXS",
    24: "MOSTLY_IQ1_S", 25: "MOSTLY_IQ4_NL", 26: "MOSTLY_IQ3_S", 27: "MOSTLY_IQ3_M",
    28: "MOSTLY_IQ2_S", 29: "MOSTLY_IQ2_M", 30: "MOSTLY_IQ4_XS", 31: "MOSTLY_IQ1_M",
    32: "MOSTLY_BF16", 36: "MOSTLY_TQ1_0", 37: "MOSTLY_TQ2_0", 38: "MOSTLY_MXFP4_MOE",
    39: "MOSTLY_NVFP4", 40: "MOSTLY_Q1_0", 1024: "GUESSED",
}  # fmt: skip

#: Jinja constructs that reach Python objects: a chat template using them tries to escape its sandbox.
TEMPLATE_ESCAPES = re.compile(
    r"__(?:class|globals|subclasses|builtins|import|mro|base|bases|init|getattribute|code|func)__"
    r"|\b(?:cycler|joiner|namespace|lipsum|url_for|get_flashed_messages)\s*\.\s*\w"
    r"|\bos\s*\.\s*\w|\bpopen\b|\bsubprocess\b|\beval\s*\(|\bexec\s*\(",
    re.IGNORECASE,
)


class GGUFError(ValueError):
    """Not a valid GGUF header; the message says why."""


#: Strings skipped by one regular-expression match in big string arrays, and the array size from which
#: the expression (compiled once, about 1 ms) pays for itself.
RUN = 1024
RUN_MIN_ARRAY = 16_384
_RUN_MAX_LENGTH = 64  # strings shorter than this are matched; a run with a longer one is walked in Python


@functools.cache
def _short_strings(endian: str, size: int) -> Callable[[bytes, int], re.Match[bytes] | None]:
    """`match(window, pos)` of exactly RUN consecutive strings shorter than _RUN_MAX_LENGTH: each is its
    length (`size` bytes in this byte order) and that many bytes, so each length value is one alternative."""
    alternatives = []
    for n in range(_RUN_MAX_LENGTH):
        length = n.to_bytes(size, "little" if endian == "<" else "big")
        alternatives.append(re.escape(length) + b".{%d}" % n)
    return re.compile(b"(?:" + b"|".join(alternatives) + b"){%d}+" % RUN, re.DOTALL).match


@functools.cache
def _dims_struct(endian: str, code: str, n_dims: int) -> struct.Struct:
    return struct.Struct(endian + code * n_dims)


class _Reader:
    """Typed reads over a cursor in the file's byte order."""

    def __init__(self, cur: Cursor, endian: str, wide: bool) -> None:
        self.cur = cur
        self.endian = endian
        self.count_code, self.count_size = ("Q", 8) if wide else ("I", 4)

    def scalar(self, code: str, size: int) -> Any:
        return struct.unpack(self.endian + code, self.cur.take(size))[0]

    def count(self, what: str, min_item: int) -> int:
        n = self.scalar(self.count_code, self.count_size)
        if n * min_item > self.cur.remaining:
            raise GGUFError(f"{what} {n} cannot fit in the {self.cur.remaining} bytes left")
        return n

    def string(self, what: str) -> str:
        n = self.count(f"{what} length", 1)
        if n > MAX_STRING:
            raise GGUFError(f"{what} length {n} exceeds the {MAX_STRING}-byte limit")
        return self.cur.take(n).decode("utf-8", errors="replace")

    def skip_strings(self, n: int) -> None:
        """Move past `n` strings (a vocabulary holds ~10^5): lengths are parsed a window at a time.

        This is the hot path of a GGUF header read. In a big array, runs of RUN short strings are matched
        by one regular expression (C code, no Python per string); a run holding a longer string, or
        crossing the window's end, goes through the Python loop, which does the least per string. A
        length that does not fit the window (also any over MAX_STRING, as MAX_STRING > CHUNK) is left to
        the checked read.
        """
        length_at = struct.Struct(self.endian + self.count_code).unpack_from
        size = self.count_size
        run = _short_strings(self.endian, size) if n >= RUN_MIN_ARRAY else None
        while n:
            window = self.cur.peek(CHUNK)
            end = len(window)
            pos = 0
            while n:
                if run is not None and n >= RUN:
                    matched = run(window, pos)
                    if matched is not None:
                        pos = matched.end()
                        n -= RUN
                        continue
                todo = min(n, RUN) if run is not None else n
                done = 0
                try:
                    for done in range(todo):  # noqa: B007 (done is read after the loop)
                        nxt = pos + size + length_at(window, pos)[0]
                        if nxt > end:
                            break
                        pos = nxt
                    else:
                        done = todo
                except struct.error:  # fewer than `size` bytes left in the window
                    pass
                n -= done
                if done < todo:
                    break  # the window ends inside the next string
            if pos:
                self.cur.skip(pos)
            elif n:  # one string longer than the window, or the file ends here: read it the checked way
                length = self.count("array item length", 1)
                if length > MAX_STRING:
                    raise GGUFError(f"array item length {length} exceeds the {MAX_STRING}-byte limit")
                self.cur.skip(length)
                n -= 1

    def tensor_infos(self, n: int, info: ModelInfo) -> tuple[int, int]:
        """Read up to `n` tensor infos that lie whole in the next window into `info`, with unpack_from
        and no Python per field: (how many, largest data offset). It stops before anything unusual (a
        name or table past the window, too many dimensions), which the caller reads the checked way."""
        window = self.cur.peek(min(CHUNK, max(4096, n * 256)))  # about the table, not the tensor data after it
        end, size, e = len(window), self.count_size, self.endian
        length_at, u32_at = struct.Struct(e + self.count_code).unpack_from, struct.Struct(e + "I").unpack_from
        type_offset_at = struct.Struct(e + "IQ").unpack_from
        pos = done = max_offset = 0
        while done < n:
            if pos + size > end:
                break
            at = pos + size + length_at(window, pos)[0]  # after the name
            if at + 4 > end:
                break
            n_dims = u32_at(window, at)[0]
            dims_at = at + 4
            after = dims_at + n_dims * size + 12
            if n_dims > MAX_DIMS or after > end:
                break
            numel = 1
            for dim in _dims_struct(e, self.count_code, n_dims).unpack_from(window, dims_at):
                numel *= dim
            ggml_type, offset = type_offset_at(window, after - 12)
            max_offset = max(max_offset, offset)
            _count_tensor(info, ggml_type, numel)
            pos = after
            done += 1
        self.cur.skip(pos)
        return done, max_offset

    def value(self, vtype: int, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.scalar(*_SCALARS[vtype])
        if vtype == STRING:
            return self.string("string")
        if vtype == ARRAY:
            if depth >= MAX_ARRAY_DEPTH:
                raise GGUFError(f"arrays nested deeper than {MAX_ARRAY_DEPTH}")
            etype = self.scalar("I", 4)
            return self.array(etype, depth + 1)
        raise GGUFError(f"unknown value type {vtype}")

    def array(self, etype: int, depth: int) -> _Array:
        if etype in _SCALARS:
            code, size = _SCALARS[etype]
            n = self.count("array length", size)
            if n <= SMALL_ARRAY:
                return _Array(etype, n, [self.scalar(code, size) for _ in range(n)])
            self.cur.skip(n * size)
            return _Array(etype, n, None)
        if etype == STRING:
            n = self.count("array length", self.count_size)
            items = [self.string("array item") for _ in range(min(n, SMALL_ARRAY))]
            self.skip_strings(n - len(items))
            return _Array(etype, n, items if n <= SMALL_ARRAY else None)
        if etype == ARRAY:
            n = self.count("array length", 4 + self.count_size)
            for _ in range(n):
                self.value(ARRAY, depth)
            return _Array(etype, n, None)
        raise GGUFError(f"unknown array item type {etype}")


class _Array:
    def __init__(self, etype: int, length: int, items: list[Any] | None) -> None:
        self.etype, self.length, self.items = etype, length, items

    def __str__(self) -> str:
        if self.items is not None:
            return json.dumps(self.items, ensure_ascii=False)
        return f"array[{TYPE_NAMES.get(self.etype, self.etype)}; {self.length}]"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if len(text) <= MAX_PROPERTY else text[:MAX_PROPERTY] + "…[truncated]"


def detect(head: bytes) -> tuple[str, int] | None:
    """(byte order, version) of a GGUF header, or None."""
    if head[:4] != MAGIC or len(head) < 8:
        return None
    (le,) = struct.unpack("<I", head[4:8])
    (be,) = struct.unpack(">I", head[4:8])
    if 1 <= le <= 0xFFFF:
        return "<", le
    if 1 <= be <= 0xFFFF:
        return ">", be
    return None


def parse(probe: Probe) -> tuple[dict[str, Any], ModelInfo, str, int]:
    """(metadata, model facts, byte order, version) of a GGUF file."""
    found = detect(probe.head)
    if found is None:
        raise GGUFError("bad magic or version")
    endian, version = found
    if version > 3:
        raise GGUFError(f"unsupported version {version}")
    cur = Cursor(probe, 8, min(probe.size, MAX_HEADER))
    rd = _Reader(cur, endian, wide=version >= 2)
    try:
        tensor_count = rd.count("tensor_count", rd.count_size + 4 + 4 + 8)
        kv_count = rd.count("kv_count", rd.count_size + 4 + 1)
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = rd.string("key")
            metadata[key] = rd.value(rd.scalar("I", 4))
        info = ModelInfo(parameter_count=0, tensor_count=tensor_count)
        max_offset = _tensor_table(rd, tensor_count, info)
    except Truncated as exc:
        limit = " (or the header exceeds the limit)" if cur.end < probe.size else ""
        raise GGUFError(f"truncated header{limit}: {exc}") from None
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0:
        raise GGUFError(f"invalid general.alignment {alignment!r}")
    data_start = -(-cur.pos // alignment) * alignment
    if tensor_count and data_start + max_offset >= probe.size:
        raise GGUFError(f"tensor data at offset {data_start + max_offset} lies past the end of the file (truncated)")
    return metadata, info, endian, version


def _tensor_table(rd: _Reader, count: int, info: ModelInfo) -> int:
    """Read `count` tensor infos into `info`: a window at a time, and one the checked way (which raises
    what is wrong with it) wherever the fast read stops. Returns the largest data offset."""
    max_offset = 0
    while count:
        done, largest = rd.tensor_infos(count, info)
        count -= done
        max_offset = max(max_offset, largest)
        if done or not count:
            continue
        name = rd.string("tensor name")
        n_dims = rd.scalar("I", 4)
        if n_dims > MAX_DIMS:
            raise GGUFError(f"tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
        numel = 1
        for _d in range(n_dims):
            numel *= rd.scalar(rd.count_code, rd.count_size)  # u32 in version 1, u64 after
        ggml_type = rd.scalar("I", 4)
        offset = rd.scalar("Q", 8)
        max_offset = max(max_offset, offset)
        _count_tensor(info, ggml_type, numel)
        count -= 1
    return max_offset


def _count_tensor(info: ModelInfo, ggml_type: int, numel: int) -> None:
    """Add one tensor's elements to the parameter count and to its type's count (both ways of reading it)."""
    dtype = GGML_TYPES.get(ggml_type, f"type{ggml_type}")
    info.parameter_count = (info.parameter_count or 0) + numel
    info.dtypes[dtype] = info.dtypes.get(dtype, 0) + numel


def _str(metadata: dict[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) and value.strip() else None


def describe(probe: Probe, metadata: dict[str, Any], info: ModelInfo, out: ScanOutput, fmt: str) -> None:
    """Turn parsed GGUF metadata into a model artifact (shared with llamafile)."""
    stem = probe.name.rsplit(".", 1)[0] if "." in probe.name else probe.name
    artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=_str(metadata, "general.name") or stem)
    artifact.model = info
    artifact.version = _str(metadata, "general.version")
    artifact.description = _str(metadata, "general.description")
    arch = _str(metadata, "general.architecture")
    if arch:
        info.architecture_family = arch
        if isinstance(ctx := metadata.get(f"{arch}.context_length"), int):
            info.properties["cdx:ai-ml:model:context:length"] = str(ctx)
    file_type = metadata.get("general.file_type")
    if isinstance(file_type, int) and not isinstance(file_type, bool):
        info.properties["cdx:ai-ml:model:quantization"] = FILE_TYPES.get(file_type, f"file_type {file_type}")
    if label := _str(metadata, "general.size_label"):
        info.properties["cdx:ai-ml:model:size:label"] = label
    if lic := _str(metadata, "general.license"):
        expr = spdx_expression(lic)
        if not expr and lic.strip().lower() == "other":
            lic = _str(metadata, "general.license.name") or lic
        artifact.licenses.append(
            License(expression=expr, name=None if expr else lic, url=_str(metadata, "general.license.link"),
                    source=probe.relpath)
        )  # fmt: skip
    for key, value in metadata.items():
        artifact.properties[f"aibom:gguf:kv:{key}"] = _text(value)
        m = re.fullmatch(r"general\.base_model\.(\d+)\.(name|organization|repo_url|version)", key)
        if m and isinstance(value, str):
            artifact.properties[f"aibom:base-model:{m[1]}:{m[2]}"] = value
    for key in ("tokenizer.chat_template", *(k for k in metadata if k.startswith("tokenizer.chat_template."))):
        template = metadata.get(key)
        if isinstance(template, str) and (hit := TEMPLATE_ESCAPES.search(template)):
            out.findings.append(
                Finding(
                    rule="chat-template-escape",
                    category=Category.UNSAFE_CODE,
                    severity=Severity.WARNING,
                    message=f"GGUF {key} uses a template-engine escape pattern {hit.group(0)!r}; rendering it "
                    "may run code in an unsandboxed template engine",
                    location=probe.relpath,
                    component=artifact.ref,
                    remediation="Inspect the chat template and render it only in a sandboxed engine.",
                )
            )


@register
class GGUFScanner(Scanner):
    family = "gguf"
    priority = 25

    def identify(self, probe: Probe) -> str | None:
        return "gguf" if detect(probe.head) else None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            metadata, info, endian, version = parse(probe)
        except GGUFError as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        describe(probe, metadata, info, out, fmt)
        artifact = out.artifacts[-1]
        artifact.properties["aibom:gguf:version"] = str(version)
        artifact.properties["aibom:gguf:endianness"] = "big" if endian == ">" else "little"
