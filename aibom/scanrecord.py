"""What scanning one file produced (`ScanOutput`), as plain JSON values and back, validated on the way in.

Used by the scan-result cache: the decoder checks every field against the dataclass type hints and raises
`BadRecord` on anything else, so a damaged or foreign entry becomes a cache miss, never wrong output.
No pickle: only dataclasses from `aibom.inventory`, strings, numbers, booleans, lists and dicts.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from functools import cache
from typing import Any

from .inventory import Artifact, Finding, LicenseFile
from .scanners.base import ScanOutput

MAX_DEPTH = 64


class BadRecord(ValueError):
    """An entry that does not decode to exactly what the encoder writes."""


def encode(value: Any) -> Any:
    """A dataclass tree as JSON values (fields with their default value are left out)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and v == f.default and type(v) is type(f.default):
                continue
            if f.default_factory is not dataclasses.MISSING and not v:
                continue
            out[f.name] = encode(v)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _init_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init)


def _json_value(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadRecord("too deep")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_json_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v, depth + 1) for k, v in value.items() if isinstance(k, str)}
    raise BadRecord(f"not a JSON value: {type(value).__name__}")


def decode(tp: Any, value: Any, depth: int = 0) -> Any:
    """`value` as type `tp`; raises BadRecord if it does not fit."""
    if depth > MAX_DEPTH:
        raise BadRecord("too deep")
    if tp is Any:
        return _json_value(value, depth)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is not type(None):
                return decode(arg, value, depth + 1)
        raise BadRecord("null where a value is required")
    if origin is list:
        if not isinstance(value, list):
            raise BadRecord(f"expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [decode(item, v, depth + 1) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise BadRecord(f"expected an object, got {type(value).__name__}")
        _, item = typing.get_args(tp)
        return {k: decode(item, v, depth + 1) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise BadRecord(f"not a {tp.__name__}: {value!r}") from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise BadRecord(f"expected a {tp.__name__} object")
        hints = _hints(tp)
        names = _init_names(tp)
        if not names.issuperset(value):
            raise BadRecord(f"unknown {tp.__name__} fields: {sorted(set(value) - names)}")
        try:
            return tp(**{k: decode(hints[k], v, depth + 1) for k, v in value.items()})
        except TypeError as exc:  # a required field is missing
            raise BadRecord(str(exc)) from None
    if tp is bool:
        if not isinstance(value, bool):
            raise BadRecord("expected a boolean")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRecord("expected an integer")
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise BadRecord("expected a number")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise BadRecord("expected a string")
        return value
    raise BadRecord(f"unsupported type {tp!r}")


def encode_output(out: ScanOutput) -> dict[str, Any]:
    return typing.cast(dict[str, Any], encode(out))


def decode_output(value: Any) -> ScanOutput:
    out = decode(ScanOutput, value)
    # the hints above resolve through the dataclasses; make sure the top level holds what it should
    if not all(isinstance(a, Artifact) for a in out.artifacts) or not all(isinstance(f, Finding) for f in out.findings):
        raise BadRecord("wrong record types")
    if not all(isinstance(lf, LicenseFile) for lf in out.license_files):
        raise BadRecord("wrong record types")
    return out
