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


Decoder = typing.Callable[[Any, int], Any]


def decode(tp: Any, value: Any, depth: int = 0) -> Any:
    """`value` as type `tp`; raises BadRecord if it does not fit."""
    return _decoder(tp)(value, depth)


@cache
def _decoder(tp: Any) -> Decoder:
    """A decoder for one type, built once from its type hints (the cache decodes thousands of records).
    Only a dataclass decoder refers to other decoders lazily, so recursive types are built in finite time."""
    if tp is Any:
        return _json_value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        nullable = type(None) in args
        inner = [arg for arg in args if arg is not type(None)]
        if not inner:
            return _fails("null where a value is required")
        first = _decoder(inner[0])

        def union(value: Any, depth: int) -> Any:
            if value is None and nullable:
                return None
            return first(_depth(value, depth), depth + 1)

        return union
    if origin is list:
        item = _decoder(typing.get_args(tp)[0])

        def items(value: Any, depth: int) -> Any:
            if not isinstance(value, list):
                raise BadRecord(f"expected a list, got {type(value).__name__}")
            _depth(value, depth)
            return [item(v, depth + 1) for v in value]

        return items
    if origin is dict:
        value_of = _decoder(typing.get_args(tp)[1])

        def mapping(value: Any, depth: int) -> Any:
            if not isinstance(value, dict):
                raise BadRecord(f"expected an object, got {type(value).__name__}")
            _depth(value, depth)
            return {k: value_of(v, depth + 1) for k, v in value.items()}

        return mapping
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = {m.value: m for m in tp}

        def member(value: Any, depth: int) -> Any:
            if type(value) in (str, int) and value in members:
                return members[value]
            raise BadRecord(f"not a {tp.__name__}: {value!r}")

        return member
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    accepted = _plain_types(tp)
    if accepted is not None and type(None) not in accepted:  # str, bool, int, float

        def scalar(value: Any, depth: int) -> Any:
            if type(value) not in accepted:
                raise BadRecord(f"expected {tp.__name__}, got {type(value).__name__}")
            return value

        return scalar
    return _fails(f"unsupported type {tp!r}")


def _depth(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadRecord("too deep")
    return value


def _fails(message: str) -> Decoder:
    def fail(value: Any, depth: int) -> Any:
        raise BadRecord(message)

    return fail


def _plain_types(tp: Any) -> tuple[type, ...] | None:
    """The exact JSON types a scalar (or optional scalar) accepts, or None for anything else: JSON gives no
    subclasses, so `type(v) in accepted` is the whole check (a bool is not an int; an int is a float)."""
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    accepted: list[type] = []
    for arg in args:
        if arg is type(None) or arg in (str, bool, int):
            accepted.append(arg)
        elif arg is float:
            accepted += [int, float]
        else:
            return None
    return tuple(accepted)


@cache
def _field_tables(tp: type, names: frozenset[str]) -> tuple[dict[str, tuple[type, ...]], dict[str, Decoder]]:
    """(scalar field -> accepted types, other field -> decoder) of a dataclass, each table complete when
    returned: threads decoding at once (fleet scans on Dask workers) never see one half built."""
    hints = _hints(tp)
    plain: dict[str, tuple[type, ...]] = {}
    fields: dict[str, Decoder] = {}
    for name in names:
        accepted = _plain_types(hints[name])
        if accepted is not None:
            plain[name] = accepted
        else:
            fields[name] = _decoder(hints[name])
    return plain, fields


def _dataclass_decoder(tp: type) -> Decoder:
    """Scalar fields are checked inline (their exact JSON types: JSON gives no subclasses); the others go
    through their decoders, looked up on first use: dataclasses may nest themselves (Artifact.parts)."""
    names = frozenset(f.name for f in dataclasses.fields(tp) if f.init)

    def instance(value: Any, depth: int) -> Any:
        if type(value) is not dict:
            raise BadRecord(f"expected a {tp.__name__} object")
        if depth > MAX_DEPTH:
            raise BadRecord("too deep")
        if not names.issuperset(value):
            raise BadRecord(f"unknown {tp.__name__} fields: {sorted(set(value) - names)}")
        plain, fields = _field_tables(tp, names)
        kwargs = {}
        for k, v in value.items():
            accepted = plain.get(k)
            if accepted is None:
                kwargs[k] = fields[k](v, depth + 1)
            elif type(v) in accepted:
                kwargs[k] = v
            else:
                raise BadRecord(f"{tp.__name__}.{k}: unexpected {type(v).__name__}")
        try:
            return tp(**kwargs)
        except TypeError as exc:  # a required field is missing
            raise BadRecord(str(exc)) from None

    return instance


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
