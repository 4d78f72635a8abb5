"""Keras 3 `.keras` archives: a zip of `metadata.json`, `config.json` and `model.weights.h5`.

Reads the two JSON members (bounded) for the Keras version, the model class and its layers; a
`Lambda` layer or any object from a non-Keras module is code that runs on load (`unsafe-code` error).
"""

from __future__ import annotations

import json
import struct

from ..inventory import Category, Finding, Kind, ModelInfo, Severity
from ..keras_config import MAX_CONFIG, ConfigError, KerasConfig, parse_config
from ..sniff import Probe
from ..zipmembers import LOCAL, ZipError, members, read_member
from . import register
from .base import Scanner, ScanOutput

MAX_METADATA = 1 << 20
_FIRST_MEMBERS = {"metadata.json", "config.json"}
_KERAS_COMPANIONS = {"metadata.json", "model.weights.h5", "model.weights.npz"}
#: What Keras 3 itself writes; anything else in the archive is listed so it is not invisible.
_KERAS_LAYOUT = ("metadata.json", "config.json", "model.weights.h5", "model.weights.npz", "assets/")  # "/": prefix


def first_member_name(head: bytes) -> str | None:
    if head[:4] != LOCAL or len(head) < 30:
        return None
    (name_len,) = struct.unpack_from("<H", head, 26)
    return head[30 : 30 + name_len].decode("utf-8", errors="replace")


def report_config(probe: Probe, cfg: KerasConfig, ref: str, out: ScanOutput) -> None:
    """Model facts and code-on-load findings of a Keras config (shared with the HDF5 scanner)."""
    artifact = out.artifacts[-1]
    info = artifact.model or ModelInfo()
    artifact.model = info
    if cfg.class_name:
        info.architecture = cfg.class_name
    if cfg.layers:
        artifact.properties["aibom:keras:layers"] = ",".join(f"{k}={v}" for k, v in sorted(cfg.layers.items()))
        info.properties["cdx:ai-ml:model:layer:count"] = str(sum(cfg.layers.values()))
    if cfg.name:
        artifact.properties["aibom:keras:model_name"] = cfg.name
    for message in cfg.unsafe:
        out.findings.append(
            Finding(
                rule="keras-code-on-load",
                category=Category.UNSAFE_CODE,
                severity=Severity.ERROR,
                message=f"Keras config: {message}",
                location=probe.relpath,
                component=ref,
                remediation="Do not load this model with safe_mode disabled; replace custom code with "
                "registered, reviewed layers, or ship weights only.",
            )
        )


@register
class KerasScanner(Scanner):
    family = "keras"
    priority = 45

    def identify(self, probe: Probe) -> str | None:
        if probe.head[:4] != LOCAL:
            return None
        if probe.name.lower().endswith(".keras"):
            return "keras"
        if first_member_name(probe.head) not in _FIRST_MEMBERS:
            return None
        try:  # not named .keras: insist on the Keras layout, not just any zip starting with config.json
            names = {m.name for m in members(probe)}
        except ZipError:
            return None
        return "keras" if "config.json" in names and names & _KERAS_COMPANIONS else None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            listed = {m.name: m for m in members(probe)}
            if "config.json" not in listed:
                raise ZipError("no config.json: not a Keras archive")
            config = read_member(probe, listed["config.json"], MAX_CONFIG)
            metadata = read_member(probe, listed["metadata.json"], MAX_METADATA) if "metadata.json" in listed else b""
            cfg = parse_config(config)
            meta = json.loads(metadata) if metadata else {}
        except (ZipError, ConfigError, ValueError, RecursionError) as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        stem = probe.name[: -len(".keras")] if probe.name.lower().endswith(".keras") else probe.name
        artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=stem)
        artifact.model = ModelInfo()
        if isinstance(meta, dict):
            for key in ("keras_version", "date_saved"):
                if isinstance(meta.get(key), str):
                    artifact.properties[f"aibom:keras:{key}"] = meta[key]
        weights = sorted(name for name in listed if name.endswith((".h5", ".npz")))
        if weights:
            artifact.properties["aibom:keras:weights"] = ",".join(weights)
        extra = sorted(
            n for n in listed if not any(n == k or (k.endswith("/") and n.startswith(k)) for k in _KERAS_LAYOUT)
        )
        if extra:
            artifact.properties["aibom:keras:other_members"] = json.dumps(extra[:50])
        report_config(probe, cfg, artifact.ref, out)
