"""PyTorch checkpoints: zip archives (any prefix, `*/data.pkl`), TorchScript archives, legacy pickle streams
and legacy tar files. Tensor facts come from the pickle opcodes; nothing is unpickled or loaded."""

from __future__ import annotations

from ..containers import ArchiveError, is_tar, is_zip, zip_members
from ..inventory import Kind
from ..pickles.emit import emit, inspect_probe, probe_blob
from ..pickles.inspect import TORCH_LEGACY_MAGIC
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput
from .safetensors import model_name

LEGACY_TAR_MEMBERS = {"sys_info", "pickle", "storages", "tensors"}


def torch_zip_kind(probe: Probe) -> str | None:
    """ "pytorch" or "torchscript" for a zip holding a `data.pkl` (TorchScript also holds `code/`)."""
    try:
        names = [m.name for m in zip_members(probe_blob(probe))]
    except (ArchiveError, ValueError, IndexError):
        return None
    if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return None
    return "torchscript" if any(n.startswith("code/") or "/code/" in n for n in names) else "pytorch"


@register
class TorchScanner(Scanner):
    family = "torch"
    priority = 60

    def identify(self, probe: Probe) -> str | None:
        head = probe.head
        if head.startswith(TORCH_LEGACY_MAGIC):
            return "pytorch-legacy"
        if is_zip(head):
            return torch_zip_kind(probe)
        if is_tar(head) and head[:100].split(b"\x00", 1)[0].decode("latin-1") in LEGACY_TAR_MEMBERS:
            return "pytorch-legacy-tar"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        report = inspect_probe(probe)
        artifact = emit(probe, fmt, report, out, Kind.MODEL)
        stem = probe.name.rsplit(".", 1)[0] if "." in probe.name else probe.name
        artifact.name = model_name(probe, stem)  # pytorch_model.bin says less than its folder
        artifact.properties["aibom:torch:serialization"] = fmt
