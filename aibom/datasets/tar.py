"""Tar archives listed by their 512-byte headers only (no member is read): WebDataset shards.

A WebDataset shard groups files by sample key: `000001.jpg`, `000001.json`, `000001.cls` ...
"""

from __future__ import annotations

from ..sniff import Probe
from .facts import DatasetFacts, FormatError

BLOCK = 512
MAX_MEMBERS = 100_000
MAX_LONG_NAME = 4096


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large sizes
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\x00", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise FormatError(f"bad size field {text[:20]!r}") from None


def list_members(probe: Probe) -> tuple[list[tuple[str, int]], bool]:
    """(name, size) of regular members, and whether the listing is complete."""
    members: list[tuple[str, int]] = []
    offset = 0
    long_name: str | None = None
    while offset + BLOCK <= probe.size:
        if len(members) >= MAX_MEMBERS:
            return members, False
        header = probe.read(offset, BLOCK)
        if len(header) < BLOCK:
            raise FormatError("truncated header")
        if header == b"\x00" * BLOCK:
            return members, True
        if header[257:262] != b"ustar":
            raise FormatError(f"no ustar header at byte {offset}")
        size = _octal(header[124:136])
        kind = header[156:157]
        data_start = offset + BLOCK
        offset = data_start + (size + BLOCK - 1) // BLOCK * BLOCK
        if offset > probe.size:
            raise FormatError("member runs past the end of the archive")
        if kind in (b"L", b"x"):
            if size > MAX_LONG_NAME * 16:
                raise FormatError("extended header too large")
            raw = probe.read(data_start, min(size, MAX_LONG_NAME * 16))
            long_name = _long_name(raw, kind)
            continue
        name = long_name or _header_name(header)
        long_name = None
        if kind in (b"0", b"\x00", b"7"):
            members.append((name, size))
    return members, True


def _header_name(header: bytes) -> str:
    name = header[:100].split(b"\x00", 1)[0]
    prefix = header[345:500].split(b"\x00", 1)[0]
    full = prefix + b"/" + name if prefix else name
    return full.decode("utf-8", errors="replace")


def _long_name(raw: bytes, kind: bytes) -> str | None:
    if kind == b"L":
        return raw.split(b"\x00", 1)[0][:MAX_LONG_NAME].decode("utf-8", errors="replace")
    for record in raw.decode("utf-8", errors="replace").split("\n"):
        _, _, kv = record.partition(" ")
        if kv.startswith("path="):
            return kv[5:][:MAX_LONG_NAME]
    return None


def webdataset_facts(members: list[tuple[str, int]], complete: bool) -> DatasetFacts | None:
    """Samples and their extensions if the members group into WebDataset samples, else None."""
    samples: dict[str, set[str]] = {}
    for name, _ in members:
        base = name.rsplit("/", 1)[-1]
        if "." not in base or base.startswith("."):
            return None
        folder = name[: len(name) - len(base)]
        key, ext = base.split(".", 1)
        samples.setdefault(folder + key, set()).add(ext)
    extensions = {e for s in samples.values() for e in s}
    if len(samples) < 2 or (len(samples) == len(members) and len(extensions) < 2):
        return None
    facts = DatasetFacts(rows=len(samples), rows_exact=complete)
    facts.properties["aibom:dataset:extensions"] = ",".join(sorted({e for s in samples.values() for e in s})[:32])
    facts.properties["aibom:dataset:members"] = str(len(members))
    return facts
