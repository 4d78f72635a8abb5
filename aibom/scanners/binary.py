"""The fallback family: well-known non-model file signatures, plain text, and unidentified binaries.

Asked last. Text and media are walked but not listed as components (datasets group media later);
archives, executables and serialised objects are listed with their hash; a binary nobody recognises
is listed as `unknown-binary` so the policy can call it opaque.
"""

from __future__ import annotations

from ..inventory import Category, Finding, Kind, Severity
from ..sniff import Probe, looks_like_text
from . import register
from .base import Scanner, ScanOutput
from .lfs import MODEL_SUFFIXES

#: (offset, magic, format, listed as a component?)
SIGNATURES: tuple[tuple[int, bytes, str, bool], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "png", False),
    (0, b"\xff\xd8\xff", "jpeg", False),
    (0, b"GIF87a", "gif", False),
    (0, b"GIF89a", "gif", False),
    (0, b"%PDF-", "pdf", False),
    (0, b"wOFF", "woff", False),
    (0, b"wOF2", "woff2", False),
    (0, b"fLaC", "flac", False),
    (0, b"OggS", "ogg", False),
    (0, b"ID3", "mp3", False),
    (0, b"\x00\x00\x01\x00", "ico", False),
    (4, b"ftyp", "mp4", False),
    (0, b"PK\x03\x04", "zip", True),
    (0, b"PK\x05\x06", "zip", True),
    (0, b"\x1f\x8b", "gzip", True),
    (0, b"BZh", "bzip2", True),
    (0, b"\xfd7zXZ\x00", "xz", True),
    (0, b"\x28\xb5\x2f\xfd", "zstd", True),
    (0, b"7z\xbc\xaf\x27\x1c", "7z", True),
    (257, b"ustar", "tar", True),
    (0, b"\x7fELF", "elf-executable", True),
    (0, b"\xcf\xfa\xed\xfe", "mach-o", True),
    (0, b"\xce\xfa\xed\xfe", "mach-o", True),
    (0, b"\xca\xfe\xba\xbe", "mach-o-universal", True),
    (0, b"MZ", "pe-executable", True),
    (0, b"\x00asm", "wasm", True),
    (0, b"SQLite format 3\x00", "sqlite", True),
)

_RIFF_KINDS = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}


def signature(head: bytes) -> tuple[str, bool] | None:
    """(format, listed) for a known signature; short magics do not override text content."""
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]], False
    for offset, magic, fmt, listed in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if len(magic) < 4 and looks_like_text(head):
                return None
            return fmt, listed
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle", True
    return None


@register
class FallbackScanner(Scanner):
    family = "binary"
    priority = 1000

    def identify(self, probe: Probe) -> str | None:
        if probe.size == 0:
            return "empty"
        if sig := signature(probe.head):
            return sig[0]
        return "text" if looks_like_text(probe.head) else "unknown-binary"

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        if fmt == "empty" and probe.name.lower().endswith(MODEL_SUFFIXES):
            artifact = out.file_artifact(probe, Kind.FILE, fmt)
            out.findings.append(
                Finding(
                    rule="empty-model-file",
                    category=Category.INTEGRITY,
                    severity=Severity.WARNING,
                    message="the file is named like model weights but is empty",
                    location=probe.relpath,
                    component=artifact.ref,
                    remediation="Re-download or re-export the weights (an interrupted download leaves this).",
                )
            )
            return
        sig = signature(probe.head)
        if fmt == "unknown-binary" or (sig and sig[1]):
            artifact = out.file_artifact(probe, Kind.FILE, fmt)
            if fmt == "unknown-binary":
                artifact.properties["aibom:format:identified"] = "false"
