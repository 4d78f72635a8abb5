"""TFRecord: length-prefixed records with masked CRC32C checksums; records are counted, not read."""

from __future__ import annotations

import struct
from functools import cache

from ..sniff import Probe
from .facts import DatasetFacts, FormatError

MAX_RECORDS = 50_000


@cache
def _table() -> tuple[int, ...]:
    poly = 0x82F63B78
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _table()
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def is_tfrecord(head: bytes) -> bool:
    """The first record's length header carries a valid masked CRC of itself."""
    return len(head) >= 12 and struct.unpack_from("<I", head, 8)[0] == masked_crc(head[:8])


def read_tfrecord(probe: Probe) -> DatasetFacts:
    """Walk the record headers (12 bytes each), skipping the payloads."""
    offset, records = 0, 0
    facts = DatasetFacts()
    while offset < probe.size:
        if records >= MAX_RECORDS:
            facts.rows_exact = False
            break
        header = probe.read(offset, 12)
        if len(header) < 12:
            raise FormatError(f"truncated record header at byte {offset}")
        (length,) = struct.unpack_from("<Q", header, 0)
        if struct.unpack_from("<I", header, 8)[0] != masked_crc(header[:8]):
            raise FormatError(f"bad length checksum at byte {offset}")
        offset += 12 + length + 4
        if offset > probe.size:
            raise FormatError(f"record {records} runs past the end of the file")
        records += 1
    facts.rows = records
    return facts
