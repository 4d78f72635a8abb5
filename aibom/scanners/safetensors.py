"""safetensors: read the JSON header only (tensor table, dtypes, parameter count, `__metadata__`).

Layout: 8-byte little-endian header length N, N bytes of JSON, then the tensor data region.
Every length and offset is checked against the file before anything is trusted.
"""

from __future__ import annotations

import json
import re
import struct

from ..inventory import Kind, ModelInfo
from ..sniff import Probe, ReadError
from . import register
from .base import Scanner, ScanOutput

#: The safetensors library refuses headers above 100 MB; so do we.
MAX_HEADER = 100_000_000

#: Bits per element of every dtype the format defines.
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip

_GENERIC_STEM = re.compile(
    r"^(model|pytorch_model|adapter_model|diffusion_pytorch_model|consolidated|weights|checkpoint)"
    r"([-.]\d{5}-of-\d{5}|\.\d+)?$"
)


#: No real tensor has more dimensions; a header with thousands is an attack on the parameter count.
MAX_DIMS = 32


def _short(name: str) -> str:
    """A tensor name for a message: repr'd and cut, so a hostile name cannot flood the BOM."""
    text = repr(name)
    return text if len(text) <= 80 else text[:77] + "..."


class HeaderError(ValueError):
    """The header is not a valid safetensors header; the message says why."""


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """JSON objects with a repeated key are refused: a second entry could hide a tensor."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise HeaderError("header repeats a key")
    return out


def model_name(probe: Probe, stem: str) -> str:
    """`model.safetensors` says nothing; its folder usually names the model."""
    if _GENERIC_STEM.match(stem) and probe.folder:
        return probe.folder.rsplit("/", 1)[-1]
    return stem


def parse_header(raw: bytes, data_size: int) -> tuple[dict[str, str], ModelInfo]:
    """Validate a header against the data region size; return (`__metadata__`, model facts)."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except HeaderError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise HeaderError(f"header is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise HeaderError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise HeaderError("__metadata__ must map strings to strings")
    info = ModelInfo(parameter_count=0, tensor_count=len(header))
    spans: list[tuple[int, int, str]] = []
    for name, spec in header.items():
        if not isinstance(spec, dict):
            raise HeaderError(f"tensor {_short(name)}: entry is not an object")
        dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if dtype not in DTYPE_BITS:
            raise HeaderError(f"tensor {_short(name)}: unknown dtype {_short(str(dtype))}")
        if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(type(d) is int and d >= 0 for d in shape):
            raise HeaderError(
                f"tensor {_short(name)}: shape must be a list of at most {MAX_DIMS} non-negative integers"
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int and o >= 0 for o in offsets)
            or offsets[0] > offsets[1]
        ):
            raise HeaderError(f"tensor {_short(name)}: data_offsets must be [begin, end] with begin <= end")
        numel = 1
        for dim in shape:
            numel *= dim
            if numel * DTYPE_BITS[dtype] > 8 * data_size:
                raise HeaderError(f"tensor {_short(name)}: shape needs more bytes than the file holds")
        bits = numel * DTYPE_BITS[dtype]
        if bits % 8 or bits // 8 != offsets[1] - offsets[0]:
            raise HeaderError(f"tensor {_short(name)}: {offsets[1] - offsets[0]} bytes cannot hold {shape} {dtype}")
        spans.append((offsets[0], offsets[1], name))
        info.parameter_count = (info.parameter_count or 0) + numel
        info.dtypes[dtype] = info.dtypes.get(dtype, 0) + numel
    expected = 0
    for begin, end, name in sorted(spans):
        if begin != expected:
            raise HeaderError(f"tensor {_short(name)}: data_offsets overlap or leave a gap at byte {expected}")
        expected = end
    if expected > data_size:
        raise HeaderError(f"tensors need {expected} data bytes but the file holds {data_size} (truncated)")
    if expected != data_size:
        raise HeaderError(f"{data_size - expected} trailing bytes after the last tensor")
    return metadata, info


@register
class SafetensorsScanner(Scanner):
    family = "safetensors"
    priority = 20

    def identify(self, probe: Probe) -> str | None:
        # The header is compact JSON, so it opens with `{"` (or `{}` for an empty file). Two bytes at a
        # fixed offset keep random binaries from matching (1 in 65536 instead of 1 in 256).
        if probe.head[8:10] in (b'{"', b"{}"):
            return "safetensors"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        (length,) = struct.unpack("<Q", probe.head[:8])
        if length > MAX_HEADER:
            out.unreadable(probe, fmt, f"declared header length {length} exceeds the {MAX_HEADER}-byte limit", 0)
            return
        if length > probe.size - 8:
            out.unreadable(probe, fmt, f"declared header length {length} runs past the end of the file", 0)
            return
        try:
            raw = probe.read(8, length)
            if len(raw) != length:
                raise ReadError("file shrank while being read")
            metadata, info = parse_header(raw, probe.size - 8 - length)
        except HeaderError as exc:
            out.unreadable(probe, fmt, str(exc), 8)
            return
        stem = probe.name[: -len(".safetensors")] if probe.name.endswith(".safetensors") else probe.name
        artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=model_name(probe, stem))
        artifact.model = info
        for key in sorted(metadata):
            artifact.properties[f"aibom:safetensors:metadata:{key}"] = metadata[key]
