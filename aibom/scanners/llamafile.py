"""llamafile: an Actually Portable Executable (MZ/ELF/shell polyglot) with a zip holding GGUF weights.

It is a program, not just weights: marked `aibom:executable=true` with an `unsafe-code` warning.
The embedded GGUF (stored uncompressed, as llamafile does) is read in place for its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory import Category, Finding, Severity
from ..sniff import HEAD_BYTES, Probe
from ..zipmembers import LOCAL, Member, ZipError, members
from . import gguf, register
from .base import Scanner, ScanOutput


@dataclass
class MemberProbe(Probe):
    """A view of one stored zip member as if it were a file of its own (reads are offset and clipped)."""

    base: int = 0

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        return Probe.read(self.outer, self.base + offset, length)

    @property
    def outer(self) -> Probe:
        return Probe(self.relpath, self.path, self.base + self.size, b"", self.root)


def _gguf_members(probe: Probe) -> list[Member]:
    return [m for m in members(probe) if m.name.lower().endswith(".gguf")]


def _member_probe(probe: Probe, member: Member) -> MemberProbe:
    header = probe.read(member.local_offset, 30)
    if header[:4] != LOCAL or len(header) < 30:
        raise ZipError(f"{member.name}: no local file header")
    start = member.local_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    if start + member.size > probe.size:
        raise ZipError(f"{member.name}: runs past the end of the file")
    head = probe.read(start, min(HEAD_BYTES, member.size))
    return MemberProbe(probe.relpath, probe.path, member.size, head, probe.root, base=start)


@register
class LlamafileScanner(Scanner):
    family = "llamafile"
    priority = 15

    def identify(self, probe: Probe) -> str | None:
        # APE binaries start with "MZqFpD='" (or "jartsr='"): a DOS header that is also a shell script.
        # Other executables only when named as a llamafile, so ordinary binaries cost no extra read.
        ape = probe.head[:6] in (b"MZqFpD", b"jartsr")
        named = probe.name.lower().endswith(".llamafile") and probe.head[:2] in (b"MZ", b"\x7fE")
        if not (ape or named):
            return None
        try:
            return "llamafile" if _gguf_members(probe) else None
        except ZipError:
            return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            member = _gguf_members(probe)[0]
            if member.method != 0:
                raise ZipError(f"{member.name} is compressed; its header cannot be read in place")
            metadata, info, _endian, version = gguf.parse(_member_probe(probe, member))
        except (ZipError, gguf.GGUFError) as exc:
            artifact = out.unreadable(probe, fmt, str(exc))
        else:
            gguf.describe(probe, metadata, info, out, fmt)
            artifact = out.artifacts[-1]
            artifact.properties["aibom:gguf:version"] = str(version)
            artifact.properties["aibom:llamafile:gguf_member"] = member.name
        artifact.properties["aibom:executable"] = "true"
        out.findings.append(
            Finding(
                rule="llamafile-executable",
                category=Category.UNSAFE_CODE,
                severity=Severity.WARNING,
                message="llamafile: an executable program (APE polyglot) bundling model weights, not just weights",
                location=probe.relpath,
                component=artifact.ref,
                remediation="Run it only if you trust its publisher; to inspect or reuse the weights, extract the "
                "GGUF and use that.",
            )
        )
