"""Run one file through identify + scan in-process, without the pipeline's safety net.

Hostile-input tests use this so that an exception escaping a scanner fails the test instead of
being turned into a generic finding by the pipeline.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from aibom.inventory import Artifact, Category, Finding
from aibom.scanners import ScanOutput, identify
from aibom.sniff import Probe


def scan_file(path: Path, root: Path | None = None) -> tuple[str, ScanOutput]:
    """(format name, scan output) of one file, relative to `root` (default: its folder)."""
    root = root or path.parent
    probe, _ = Probe.from_file(path.relative_to(root).as_posix(), str(path), str(root))
    scanner, fmt = identify(probe)
    out = ScanOutput()
    scanner.scan(probe, fmt, out)
    return fmt, out


def only_artifact(out: ScanOutput) -> Artifact:
    assert len(out.artifacts) == 1, out.artifacts
    return out.artifacts[0]


def of_category(out: ScanOutput, category: Category) -> list[Finding]:
    return [f for f in out.findings if f.category is category]


def is_unreadable(out: ScanOutput) -> bool:
    return bool(of_category(out, Category.UNREADABLE))


def mutate(data: st.DataObject, raw: bytes) -> bytes:
    """`raw` with 1-8 bytes overwritten at drawn positions, then cut at a drawn length (for hypothesis)."""
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    return bytes(buf[: data.draw(st.integers(0, len(buf)))])
