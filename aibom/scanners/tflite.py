"""TensorFlow Lite: a FlatBuffer with file identifier `TFL3` at offset 4 (schema.fbs `Model`).

Reads the schema version, description, metadata names, subgraph/tensor/operator counts and the
parameter count (elements of tensors backed by a non-empty buffer) by following offsets, checking
each against the file; tensor data is never read. Reads go through a small bounded page cache.
"""

from __future__ import annotations

import struct

from ..inventory import Kind, ModelInfo
from ..sniff import Probe, ReadError
from . import register
from .base import Scanner, ScanOutput

PAGE = 1 << 16
MAX_PAGES = 256
MAX_VECTOR = 1_000_000
MAX_TENSORS = 200_000  # visited over all subgraphs
MAX_TEXT = 4096

#: TensorType (schema.fbs)
TENSOR_TYPES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL", 7: "INT16",
    8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64", 13: "RESOURCE",
    14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4", 18: "BFLOAT16", 19: "INT2",
}  # fmt: skip


class FlatError(ValueError):
    """An offset or length that does not fit the file."""


class _Buf:
    """Bounded random access to the file, 64 KiB pages at a time."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.pages: dict[int, bytes] = {}

    def get(self, off: int, n: int) -> bytes:
        if off < 0 or n < 0 or off + n > self.probe.size:
            raise FlatError(f"{n} bytes at offset {off} lie outside the file")
        out = b""
        while n > 0:
            page = off // PAGE
            if page not in self.pages:
                if len(self.pages) >= MAX_PAGES:
                    raise FlatError("flatbuffer tables spread over too much of the file")
                data = self.probe.read(page * PAGE, PAGE)
                if len(data) < min(PAGE, self.probe.size - page * PAGE):
                    raise ReadError("file shrank while being read")
                self.pages[page] = data
            chunk = self.pages[page][off - page * PAGE : off - page * PAGE + n]
            out += chunk
            off += len(chunk)
            n -= len(chunk)
        return out

    def u8(self, off: int) -> int:
        return self.get(off, 1)[0]

    def u16(self, off: int) -> int:
        return struct.unpack("<H", self.get(off, 2))[0]

    def u32(self, off: int) -> int:
        return struct.unpack("<I", self.get(off, 4))[0]

    def i32(self, off: int) -> int:
        return struct.unpack("<i", self.get(off, 4))[0]

    def u64(self, off: int) -> int:
        return struct.unpack("<Q", self.get(off, 8))[0]


class _Table:
    def __init__(self, buf: _Buf, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - buf.i32(pos)
        self.vt_size = buf.u16(self.vtable)
        if self.vt_size < 4 or self.vt_size % 2:
            raise FlatError(f"bad vtable size {self.vt_size}")

    def field(self, index: int) -> int | None:
        """Absolute position of field `index`, or None when absent."""
        slot = 4 + 2 * index
        if slot + 2 > self.vt_size:
            return None
        rel = self.buf.u16(self.vtable + slot)
        return self.pos + rel if rel else None

    def scalar(self, index: int, reader: str, default: int = 0) -> int:
        pos = self.field(index)
        return default if pos is None else getattr(self.buf, reader)(pos)

    def _indirect(self, index: int) -> int | None:
        pos = self.field(index)
        return None if pos is None else pos + self.buf.u32(pos)

    def string(self, index: int) -> str | None:
        pos = self._indirect(index)
        if pos is None:
            return None
        n = self.buf.u32(pos)
        return self.buf.get(pos + 4, min(n, MAX_TEXT)).decode("utf-8", errors="replace")

    def vector(self, index: int, elem: int = 4) -> tuple[int, int]:
        """(position of the first element, length) of a vector field; (0, 0) when absent."""
        pos = self._indirect(index)
        if pos is None:
            return 0, 0
        n = self.buf.u32(pos)
        if n > MAX_VECTOR or pos + 4 + n * elem > self.buf.probe.size:
            raise FlatError(f"vector of {n} elements does not fit the file")
        return pos + 4, n

    def tables(self, index: int) -> list[_Table]:
        start, n = self.vector(index)
        return [_Table(self.buf, start + 4 * i + self.buf.u32(start + 4 * i)) for i in range(n)]


def parse(probe: Probe) -> tuple[dict[str, str], ModelInfo]:
    buf = _Buf(probe)
    model = _Table(buf, buf.u32(0))
    facts: dict[str, str] = {"version": str(model.scalar(0, "u32"))}
    if (desc := model.string(3)) is not None:
        facts["description"] = desc
    buffers = model.tables(4)
    subgraphs = model.tables(2)
    facts["subgraphs"] = str(len(subgraphs))
    facts["operator_codes"] = str(model.vector(1)[1])
    names = [m.string(0) or "" for m in model.tables(6)[:64]]
    if names:
        facts["metadata"] = ",".join(sorted(names))
    info = ModelInfo(parameter_count=0, tensor_count=0)
    nonempty = [b.vector(0, 1)[1] > 0 or b.scalar(2, "u64") > 0 for b in buffers]
    visited = 0
    for sg_index, sg in enumerate(subgraphs):
        tensors = sg.tables(0)
        visited += len(tensors)
        if visited > MAX_TENSORS:
            raise FlatError(f"more than {MAX_TENSORS} tensors")
        if sg_index == 0:
            facts["operators"] = str(sg.vector(3)[1])
        for tensor in tensors:
            index = tensor.scalar(2, "u32")
            if not (0 < index < len(nonempty) and nonempty[index]):
                continue
            start, rank = tensor.vector(0)
            numel = 1
            for d in range(min(rank, 64)):
                numel *= max(buf.i32(start + 4 * d), 0)
            info.tensor_count = (info.tensor_count or 0) + 1
            info.parameter_count = (info.parameter_count or 0) + numel
            dtype = TENSOR_TYPES.get(tensor.scalar(1, "u8"), "UNKNOWN")
            info.dtypes[dtype] = info.dtypes.get(dtype, 0) + numel
    return facts, info


@register
class TFLiteScanner(Scanner):
    family = "tflite"
    priority = 26

    def identify(self, probe: Probe) -> str | None:
        return "tflite" if probe.head[4:8] == b"TFL3" and probe.size >= 12 else None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            facts, info = parse(probe)
        except FlatError as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        stem = probe.name.rsplit(".", 1)[0] if "." in probe.name else probe.name
        artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=stem)
        artifact.model = info
        artifact.description = facts.get("description")
        for key, value in facts.items():
            artifact.properties[f"aibom:tflite:{key}"] = value
