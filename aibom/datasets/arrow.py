"""Arrow IPC: the file format (also Feather v2) through its footer, the stream format message by message.

Only metadata messages are read; record-batch bodies are skipped by their declared lengths.
"""

from __future__ import annotations

import struct

from ..flatbuf import FlatError, Table
from ..sniff import Probe
from .facts import DatasetFacts, FormatError

FILE_MAGIC = b"ARROW1"
CONTINUATION = b"\xff\xff\xff\xff"
MAX_METADATA = 16 << 20
MAX_BATCHES = 20_000  # record batches whose headers are read; past this the row count is a lower bound
MAX_FIELDS = 10_000
_SCHEMA_HEADER, _BATCH_HEADER = 1, 3


def kind_of(probe: Probe) -> str | None:
    if probe.head[:6] == FILE_MAGIC:
        return "arrow-file"
    if probe.head[:4] == CONTINUATION and len(probe.head) >= 12:
        (length,) = struct.unpack_from("<i", probe.head, 4)
        if 8 <= length <= MAX_METADATA:
            try:
                msg = Table.root(probe.head[8 : 8 + length]) if 8 + length <= len(probe.head) else None
                if msg is not None and msg.scalar(1, "<B") == _SCHEMA_HEADER:
                    return "arrow-stream"
            except FlatError:
                return None
    if probe.head[:4] == b"FEA1":
        return "feather-v1"
    return None


def _schema_fields(schema: Table | None) -> list[str]:
    if schema is None:
        raise FormatError("no schema")
    return [t.string(0) or "?" for t in schema.tables(1, MAX_FIELDS)]


def _message(probe: Probe, offset: int) -> tuple[Table, int, int] | None:
    """(message, metadata end, body length) of the IPC message at `offset`; None at end of stream."""
    head = probe.read(offset, 8)
    if len(head) < 4:
        return None
    if head[:4] == CONTINUATION:
        if len(head) < 8:
            raise FormatError("truncated message length")
        (length,) = struct.unpack_from("<i", head, 4)
        start = offset + 8
    else:  # pre-0.15 streams: the length without continuation marker
        (length,) = struct.unpack_from("<i", head, 0)
        start = offset + 4
    if length == 0:
        return None
    if length < 0 or length > MAX_METADATA or start + length > probe.size:
        raise FormatError(f"message length {length} does not fit the file")
    msg = Table.root(probe.read(start, length))
    body = msg.scalar(3, "<q")
    if body < 0:
        raise FormatError("negative body length")
    return msg, start + length, body


def read_arrow(probe: Probe, kind: str) -> DatasetFacts:
    try:
        return _read(probe, kind)
    except FlatError as exc:
        raise FormatError(str(exc)) from None


def _read(probe: Probe, kind: str) -> DatasetFacts:
    if kind == "feather-v1":
        return DatasetFacts(rows=None)  # legacy layout: recorded as a dataset file without details
    facts = DatasetFacts(rows=0)
    if kind == "arrow-file":
        tail = probe.read(probe.size - 10, 10)
        if len(tail) != 10 or tail[4:] != FILE_MAGIC:
            raise FormatError("no ARROW1 footer magic (truncated?)")
        (length,) = struct.unpack_from("<i", tail, 0)
        if length <= 0 or length > MAX_METADATA or length > probe.size - 18:
            raise FormatError(f"footer length {length} does not fit the file")
        footer = Table.root(probe.read(probe.size - 10 - length, length))
        facts.add_columns(_schema_fields(footer.table(1)))
        start, n = footer.vector(3, 24)  # bounds-checked: n blocks fit in the footer
        if n > MAX_BATCHES:
            facts.rows_exact = False
        for i in range(min(n, MAX_BATCHES)):
            (offset,) = struct.unpack_from("<q", footer.buf, start + 24 * i)
            if offset < 0 or offset >= probe.size:
                raise FormatError("record batch offset outside the file")
            found = _message(probe, offset)
            if found is None or found[0].scalar(1, "<B") != _BATCH_HEADER:
                raise FormatError("block is not a record batch")
            facts.rows = (facts.rows or 0) + _batch_rows(found[0])
        facts.properties["aibom:dataset:record-batches"] = str(n)
        return facts
    offset, batches = 0, 0
    while True:
        found = _message(probe, offset)
        if found is None:
            break
        msg, end, body = found
        header = msg.scalar(1, "<B")
        if header == _SCHEMA_HEADER and not facts.columns:
            facts.add_columns(_schema_fields(msg.table(2)))
        elif header == _BATCH_HEADER:
            batches += 1
            facts.rows = (facts.rows or 0) + _batch_rows(msg)
        offset = end + body
        if offset > probe.size:
            raise FormatError("message body runs past the end of the file")
        if batches >= MAX_BATCHES:
            facts.rows_exact = False
            break
    facts.properties["aibom:dataset:record-batches"] = str(batches)
    return facts


def _batch_rows(msg: Table) -> int:
    batch = msg.table(2)
    rows = batch.scalar(0, "<q") if batch is not None else -1
    if rows < 0:
        raise FormatError("record batch without a valid length")
    return rows
