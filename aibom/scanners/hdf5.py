"""HDF5 files (signature at offset 0 or after a 512·2^n-byte user block), Keras legacy `.h5` above all.

The root group's string attributes are read without h5py (`aibom.hdf5attrs`). A Keras model saved
as HDF5 keeps `model_config` (JSON), `keras_version` and `backend` there: the config is checked for
code that runs on load exactly as in `.keras` archives. Other HDF5 files are listed as opaque files.
"""

from __future__ import annotations

from ..hdf5attrs import SIGNATURE, HDF5Error, find_signature, read_root
from ..inventory import Kind, ModelInfo
from ..keras_config import ConfigError, parse_config
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput
from .keras import report_config

_NAME_HINTS = (".h5", ".hdf5", ".hdf", ".he5", ".keras")
_KERAS_ATTRS = ("model_config", "keras_version", "layer_names")


@register
class HDF5Scanner(Scanner):
    family = "hdf5"
    priority = 27

    def identify(self, probe: Probe) -> str | None:
        if probe.head[:8] == SIGNATURE:
            return "hdf5"
        if SIGNATURE not in probe.head and not probe.name.lower().endswith(_NAME_HINTS):
            return None
        return "hdf5" if find_signature(probe, beyond_head=probe.name.lower().endswith(_NAME_HINTS)) else None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        offset = find_signature(probe, beyond_head=True)
        try:
            if offset is None:
                raise HDF5Error("signature vanished")
            root = read_root(probe, offset)
            cfg = parse_config(root.attributes["model_config"]) if "model_config" in root.attributes else None
        except (HDF5Error, ConfigError) as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        if root.dense_attributes and cfg is None:
            out.unreadable(
                probe, fmt, "root attributes are kept in dense storage, which aibom does not read yet: "
                "a Keras model_config there could not be checked for code run on load",
            )  # fmt: skip
            return
        attrs = root.attributes
        is_model = any(a in attrs or a in root.skipped for a in _KERAS_ATTRS) or probe.name.endswith(".weights.h5")
        stem = probe.name.rsplit(".", 1)[0] if "." in probe.name else probe.name
        artifact = out.file_artifact(probe, Kind.MODEL if is_model else Kind.FILE, fmt, name=stem)
        props = artifact.properties
        props["aibom:hdf5:superblock_offset"] = str(root.superblock_offset)
        props["aibom:hdf5:superblock_version"] = str(root.superblock_version)
        for key in ("keras_version", "backend"):
            if key in attrs:
                props[f"aibom:keras:{key}"] = attrs[key][:256]
        if is_model:
            artifact.model = ModelInfo()
        if cfg is not None:
            report_config(probe, cfg, artifact.ref, out)
