"""Archives and compressed files (zip, tar, gzip, bzip2, xz, lz4, 7z): every member is read by content, so pickles
hidden under any name or inside nested archives are analysed; limits turn bombs into findings."""

from __future__ import annotations

from ..containers import LZ4_FRAME_MAGIC, is_tar, is_zip
from ..inventory import Kind
from ..pickles.emit import emit, inspect_probe
from ..pickles.inspect import SEVENZIP_MAGIC
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput

_MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (LZ4_FRAME_MAGIC, "lz4"),
    (SEVENZIP_MAGIC, "7z"),
)


@register
class ArchiveScanner(Scanner):
    family = "archive"
    priority = 90

    def identify(self, probe: Probe) -> str | None:
        head = probe.head
        if is_zip(head):
            return "zip"
        for magic, fmt in _MAGICS:
            if head.startswith(magic):
                return fmt
        if is_tar(head):
            return "tar"
        if probe.size >= 22 and probe.read(probe.size - 22, 4) == b"PK\x05\x06":
            return "zip"  # a zip with something prepended (self-extracting, polyglot): loaders still open it
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        emit(probe, fmt, inspect_probe(probe), out, Kind.FILE)
