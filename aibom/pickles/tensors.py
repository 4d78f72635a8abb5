"""Tensor facts (count, shapes, dtypes, parameters) read from a simulated torch pickle, without unpickling."""

from __future__ import annotations

from ..inventory import ModelInfo
from .vm import Analysis, CallRec, GlobalRef, PersId

#: torch legacy storage classes and dtypes -> the dtype names aibom uses (safetensors' spelling).
STORAGE_DTYPES = {
    "FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16", "BFloat16Storage": "BF16",
    "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8",
    "BoolStorage": "BOOL", "ComplexFloatStorage": "C64", "ComplexDoubleStorage": "C128",
    "QInt8Storage": "QI8", "QUInt8Storage": "QU8", "QInt32Storage": "QI32",
}  # fmt: skip
TORCH_DTYPES = {
    "float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
    "complex64": "C64", "complex128": "C128", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "float8_e8m0fnu": "F8_E8M0", "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ",
    "float4_e2m1fn_x2": "F4_X2",
}  # fmt: skip
REBUILDERS = {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_qtensor"}


def _storage_dtype(storage: object) -> str | None:
    if isinstance(storage, PersId) and isinstance(storage.pid, tuple) and len(storage.pid) >= 2:
        cls = storage.pid[1]
        if isinstance(cls, GlobalRef) and cls.module == "torch" and cls.name:
            return STORAGE_DTYPES.get(cls.name)
    return None


def tensor_info(analysis: Analysis) -> ModelInfo | None:
    """Tensors rebuilt by torch._utils rebuild functions; None when there are none."""
    info = ModelInfo(parameter_count=0, tensor_count=0)
    seen: set[int] = set()
    for call in analysis.calls:
        func = call.func
        if not (isinstance(func, GlobalRef) and func.module == "torch._utils" and func.name in REBUILDERS):
            continue
        if id(call) in seen or not isinstance(call.args, tuple) or len(call.args) < 3:
            continue
        seen.add(id(call))
        storage, size = call.args[0], call.args[2]
        if not isinstance(size, tuple) or not all(type(d) is int and d >= 0 for d in size):
            continue
        numel = 1
        for d in size:
            numel *= d
        dtype = _storage_dtype(storage)
        if func.name == "_rebuild_tensor_v3" and len(call.args) >= 7 and isinstance(call.args[6], GlobalRef):
            dtype = TORCH_DTYPES.get(call.args[6].name or "", dtype)
        info.tensor_count = (info.tensor_count or 0) + 1
        info.parameter_count = (info.parameter_count or 0) + numel
        key = dtype or "unknown"
        info.dtypes[key] = info.dtypes.get(key, 0) + numel
    return info if info.tensor_count else None


def is_rebuild(call: CallRec) -> bool:
    func = call.func
    return isinstance(func, GlobalRef) and func.module == "torch._utils" and func.name in REBUILDERS


ELEMENT_BYTES = {
    "F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "C64": 8, "C128": 16, "QI8": 1, "QU8": 1, "QI32": 4,
}  # fmt: skip


def legacy_storage_sizes(analysis: Analysis) -> dict[str, int] | None:
    """Element size per storage key of a legacy torch file, from the persistent ids; None if unknown."""
    sizes: dict[str, int] = {}
    for pid in analysis.persistent_ids:
        if isinstance(pid.pid, tuple) and len(pid.pid) >= 3 and pid.pid[0] == "storage":
            dtype = _storage_dtype(pid)
            if dtype not in ELEMENT_BYTES or not isinstance(pid.pid[2], str):
                return None
            sizes[pid.pid[2]] = ELEMENT_BYTES[dtype]
    return sizes
