"""Parquet: the footer only (row count, top-level columns, writer), decoded with our own Thrift reader."""

from __future__ import annotations

import json
import struct

from ..sniff import Probe
from ..thrift_compact import ThriftError, decode_struct
from .facts import DatasetFacts, FormatError

MAGIC = b"PAR1"
MAX_FOOTER = 64 << 20

# FileMetaData field ids (parquet.thrift)
_SCHEMA, _NUM_ROWS, _ROW_GROUPS, _KV, _CREATED_BY = 2, 3, 4, 5, 6
# SchemaElement field ids
_NAME, _NUM_CHILDREN = 4, 5


def is_parquet(probe: Probe) -> bool:
    return probe.head[:4] == MAGIC and probe.size >= 12


def read_parquet(probe: Probe) -> DatasetFacts:
    tail = probe.read(probe.size - 8, 8)
    if len(tail) != 8 or tail[4:] != MAGIC:
        raise FormatError("no PAR1 footer magic (truncated?)")
    (length,) = struct.unpack("<I", tail[:4])
    if length > MAX_FOOTER or length > probe.size - 12:
        raise FormatError(f"footer length {length} does not fit the file")
    footer = probe.read(probe.size - 8 - length, length)
    try:
        meta = decode_struct(footer)
    except ThriftError as exc:
        raise FormatError(f"footer: {exc}") from None
    rows = meta.get(_NUM_ROWS)
    schema = meta.get(_SCHEMA)
    if not isinstance(rows, int) or rows < 0 or not isinstance(schema, list) or not schema:
        raise FormatError("footer lacks a row count or schema")
    facts = DatasetFacts(rows=rows)
    facts.add_columns(_top_level_columns(schema))
    groups = meta.get(_ROW_GROUPS)
    facts.properties["aibom:dataset:row-groups"] = str(len(groups) if isinstance(groups, list) else 0)
    created = meta.get(_CREATED_BY)
    if isinstance(created, bytes):
        facts.properties["aibom:dataset:created-by"] = created.decode("utf-8", "replace")[:200]
    kvs = meta.get(_KV)
    for kv in kvs if isinstance(kvs, list) else []:
        if isinstance(kv, dict) and kv.get(1) == b"huggingface" and isinstance(kv.get(2), bytes):
            _huggingface_features(kv[2], facts)
    return facts


def _top_level_columns(schema: list) -> list[str]:
    """Names of the root's direct children; the leaves of nested groups are skipped by child counts."""
    root = schema[0] if isinstance(schema[0], dict) else {}
    count = root.get(_NUM_CHILDREN)
    names: list[str] = []
    stack = [count] if isinstance(count, int) and count > 0 else []
    for el in schema[1:]:
        if not stack:
            break
        el = el if isinstance(el, dict) else {}
        if len(stack) == 1:
            name = el.get(_NAME)
            names.append(name.decode("utf-8", "replace") if isinstance(name, bytes) else "?")
        stack[-1] -= 1
        children = el.get(_NUM_CHILDREN)
        if isinstance(children, int) and children > 0:
            stack.append(children)
        while stack and stack[-1] <= 0:
            stack.pop()
    return names


def _huggingface_features(raw: bytes, facts: DatasetFacts) -> None:
    """`datasets` writes its feature spec as JSON in the footer's `huggingface` key."""
    if len(raw) > 1 << 20:
        return
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        return
    features = info.get("info", {}).get("features") if isinstance(info, dict) else None
    if isinstance(features, dict):
        facts.properties["aibom:dataset:features"] = ",".join(list(features)[:64])[:2000]
