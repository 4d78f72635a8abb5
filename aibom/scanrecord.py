"""What scanning one file produced (`ScanOutput`) as one scan-cache row, and back, validated on the way in.

msgspec writes the dataclasses of `aibom.inventory` as JSON and reads them back into the same classes,
checking every value against the type hints (a bool is not an int, an enum only takes its values, a fixed
tuple its length), and a row of another format or with a value of the wrong type raises `BadRecord` and
becomes a cache miss, never wrong output. (Fields a dataclass does not have are ignored and missing ones
take their defaults: rows of other aibom versions never get here, as the cache keys rows by version.)
No pickle: only those dataclasses, strings, numbers, booleans, lists and dicts.

msgspec writes UTF-8 and cannot hold a lone surrogate (a non-UTF-8 file name's bytes, by surrogateescape),
and it writes a NaN as null. A row holding either is written by `json` with escapes instead, marked by a
leading `j`, and read back by `json` and checked by `msgspec.convert`, so it decodes to what was written.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec

from .inventory import Artifact
from .readdeps import StatKey
from .scanners.base import ScanOutput

FORMAT = 3  # 3: msgspec, every field written; 2: hand-written codec, fields at their defaults left out
_VIA_JSON = "j"


class BadRecord(ValueError):
    """A row that does not decode to exactly what the encoder writes."""


class Record(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One file's cached scan: the format identified, how many files it hashed, the stat keys of the other
    files its scanner read (None: absent) and its output, artifacts already hashed."""

    v: int
    fmt: str | None
    hashed: int
    deps: dict[str, StatKey]
    out: ScanOutput


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Record)


def encode(record: Record) -> str:
    """The row text of `record`."""
    if _finite(record.out.artifacts):
        try:
            return _encoder.encode(record).decode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            pass
    return _VIA_JSON + json.dumps(msgspec.to_builtins(record), separators=(",", ":"))


def decode(text: str) -> Record:
    """The record of a row; raises BadRecord when it is not one this version writes."""
    try:
        via_json = text.startswith(_VIA_JSON)
        record = msgspec.convert(json.loads(text[1:]), Record) if via_json else _decoder.decode(text)
    except (ValueError, RecursionError, msgspec.MsgspecError) as exc:  # DecodeError, ValidationError
        raise BadRecord(str(exc)) from None
    if record.v != FORMAT:
        raise BadRecord(f"format {record.v}, not {FORMAT}")
    return record


def _finite(artifacts: list[Artifact]) -> bool:
    """No NaN or infinity among the free-form values (model-directory facts) of these artifacts."""
    return all(
        (a.model_dir_file is None or _finite_value(a.model_dir_file.facts)) and (not a.parts or _finite(a.parts))
        for a in artifacts
    )


def _finite_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_value(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite_value(v) for v in value)
    return True
