"""Delimited text (CSV/TSV) and JSON Lines / JSON arrays of records.

Columns come from the first record; rows are counted by streaming the file in bounded chunks
(quoted newlines in CSV are honoured), up to a size limit past which the count is left out.
"""

from __future__ import annotations

import csv
import io
import json

from ..sniff import Probe, looks_like_text
from .facts import DatasetFacts, FormatError

MAX_COUNT_BYTES = 32 << 20  # past this, rows are not counted (a warm re-scan must stay fast)
CHUNK = 1 << 20
_DELIMITERS = {"csv": ",", "tsv": "\t"}


def _first_lines(head: bytes, n: int = 6) -> list[str]:
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(head) >= 8192 and lines:
        lines = lines[:-1]  # the last line may be cut
    return [ln for ln in lines if ln.strip()][:n]


def delimited_kind(probe: Probe) -> str | None:
    """`csv` / `tsv` when the first lines split into the same number (>1) of fields."""
    ext = probe.name.rsplit(".", 1)[-1].lower()
    if ext not in ("csv", "tsv", "tab") or not looks_like_text(probe.head):
        return None
    lines = _first_lines(probe.head)
    delim = "\t" if ext in ("tsv", "tab") else ","
    if not lines:
        return None
    try:
        widths = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)}
    except csv.Error:
        return None
    if len(lines) == 1:
        return "tsv" if delim == "\t" else "csv"
    return ("tsv" if delim == "\t" else "csv") if len(widths) <= 2 and max(widths) > 1 else None


def jsonl_kind(probe: Probe) -> str | None:
    """`jsonl` when the first lines are each a JSON object; `json-records` for a top-level array of objects."""
    if not looks_like_text(probe.head):
        return None
    stripped = probe.head.lstrip()
    if stripped[:1] == b"[" and stripped[1:].lstrip()[:1] == b"{":
        return "json-records"
    lines = _first_lines(probe.head, 3)
    if not lines or not all(ln.lstrip().startswith("{") for ln in lines):
        return None
    if len(lines) == 1 and not probe.name.lower().endswith((".jsonl", ".ndjson")):
        return None  # a single object is an ordinary JSON document
    try:
        return "jsonl" if all(isinstance(json.loads(ln), dict) for ln in lines) else None
    except (ValueError, RecursionError):
        return None


def _chunks(probe: Probe):  # type: ignore[no-untyped-def]
    offset = 0
    while offset < probe.size:
        data = probe.read(offset, CHUNK)
        if not data:
            return
        offset += len(data)
        yield data


def read_delimited(probe: Probe, kind: str) -> DatasetFacts:
    delim = _DELIMITERS[kind]
    lines = _first_lines(probe.head, 1)
    if not lines:
        raise FormatError("no header row")
    header = next(csv.reader([lines[0]], delimiter=delim))
    facts = DatasetFacts()
    facts.add_columns([h.strip() for h in header])
    facts.properties["aibom:dataset:delimiter"] = "tab" if delim == "\t" else delim
    if probe.size <= MAX_COUNT_BYTES:
        reader = io.TextIOWrapper(io.BufferedReader(_ChunkStream(probe)), encoding="utf-8", errors="replace")
        try:
            facts.rows = max(0, sum(1 for _ in csv.reader(reader, delimiter=delim)) - 1)
        except csv.Error as exc:
            raise FormatError(f"CSV: {exc}") from None
    return facts


def read_jsonl(probe: Probe, kind: str) -> DatasetFacts:
    facts = DatasetFacts()
    if kind == "jsonl":
        first = json.loads(_first_lines(probe.head, 1)[0])
        facts.add_columns([str(k) for k in first])
        if probe.size <= MAX_COUNT_BYTES:
            count, last = 0, b"\n"
            for chunk in _chunks(probe):
                count += chunk.count(b"\n")
                last = chunk[-1:]
            facts.rows = count + (0 if last == b"\n" else 1)
    return facts


class _ChunkStream(io.RawIOBase):
    """A read-only stream over a probe, so csv can read a large file without loading it."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.probe.read(self.offset, min(len(buffer), CHUNK))
        buffer[: len(data)] = data
        self.offset += len(data)
        return len(data)
