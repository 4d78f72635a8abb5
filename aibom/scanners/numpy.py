"""NumPy `.npy` (header dict; an object array carries a pickle, which is analysed) and `.npz` (a zip of .npy)."""

from __future__ import annotations

from ..containers import ArchiveError, is_zip, zip_members
from ..inventory import Kind
from ..pickles.emit import emit, inspect_probe, probe_blob
from ..pickles.inspect import NPY_MAGIC
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput


@register
class NumpyScanner(Scanner):
    family = "numpy"
    priority = 65

    def identify(self, probe: Probe) -> str | None:
        if probe.head.startswith(NPY_MAGIC):
            return "npy"
        if is_zip(probe.head) and probe.name.lower().endswith(".npz"):
            try:
                names = [m.name for m in zip_members(probe_blob(probe))]
            except (ArchiveError, ValueError, IndexError):
                return None
            if names and all(n.endswith(".npy") for n in names):
                return "npz"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        emit(probe, fmt, inspect_probe(probe), out, Kind.FILE)
