"""Dataset metadata documents -> one dataset artifact per folder (or per DVC-tracked path).

All documents in one folder describe the same dataset, so they share the ref `dataset:<folder>`
and are merged; DVC entries describe `dataset:<tracked path>`, present on disk or not.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import replace

from .. import readdeps
from ..datasets import descriptors as dd
from ..datasets.facts import FormatError
from ..datasets.ids import folder_dataset_id
from ..inventory import Artifact, Evidence, Kind, License, LicenseFile
from ..sniff import Probe, ReadError, looks_like_text
from . import register
from .base import Scanner, ScanOutput

MAX_JSON_BYTES = 16 << 20
MAX_DVC_BYTES = 4 << 20
DATASET_ID = "aibom:dataset:id"
_KEY_LINE = re.compile(rb"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)
_JSON_NAMES = {
    "dataset_info.json": "hf-dataset-info",
    "dataset_infos.json": "hf-dataset-info",
    "state.json": "hf-dataset-state",
    "datapackage.json": "frictionless-datapackage",
}
_MODEL_EXTENSIONS = (".pt", ".pth", ".pkl", ".pickle", ".joblib", ".safetensors", ".onnx", ".h5", ".keras",
                     ".gguf", ".ckpt", ".bin", ".tflite", ".pb")  # fmt: skip


def combine(licenses: list[License]) -> License | None:
    """Several licenses a card states, as one declaration (an AND expression when all are SPDX)."""
    if len(licenses) <= 1:
        return replace(licenses[0]) if licenses else None
    if all(lic.expression for lic in licenses):
        return License(
            expression=" AND ".join(
                f"({lic.expression})" if " " in (lic.expression or "") else lic.expression or "" for lic in licenses
            )
        )
    return License(name=" AND ".join(lic.label for lic in licenses)[:300])


def dataset_ref(path: str) -> str:
    return f"dataset:{path or '.'}"


def _root_name(probe: Probe) -> str:
    return os.path.basename(probe.root.rstrip(os.sep)) or "dataset"


@register
class DatasetMetadataScanner(Scanner):
    family = "dataset-metadata"
    priority = 35

    def identify(self, probe: Probe) -> str | None:
        name = probe.name
        if not looks_like_text(probe.head):
            return None
        lower = name.lower()
        if lower == "readme.md" and probe.head.startswith(b"---"):
            keys = {k.decode() for k in _KEY_LINE.findall(probe.head.split(b"\n---", 1)[0])}
            if keys & dd.DATASET_KEYS and not keys & dd.MODEL_KEYS:
                return "hf-dataset-card"
            return None
        if name in _JSON_NAMES and probe.head.lstrip()[:1] == b"{":
            if name == "state.json" and b'"_data_files"' not in probe.head:
                return None
            return _JSON_NAMES[name]
        if lower.endswith((".json", ".jsonld")) and b"mlcommons.org/croissant" in probe.head:
            return "croissant"
        if lower.endswith(".dvc") and len(name) > 4 and b"outs" in probe.head:
            return "dvc-file"
        if name in ("dvc.lock", "dvc.yaml") and b"stages" in probe.head:
            return "dvc-pipeline"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            if fmt in ("dvc-file", "dvc-pipeline"):
                self.scan_dvc(probe, fmt, out)
                return
            descriptor = self.describe(probe, fmt)
        except FormatError as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        folder = probe.folder
        artifact = out.file_artifact(probe, Kind.DATASET, fmt)
        artifact.ref = dataset_ref(folder)
        artifact.name = posixpath.basename(folder) or _root_name(probe)
        self.apply(artifact, descriptor, probe)
        artifact.properties.setdefault(DATASET_ID, descriptor.hub_id or folder_dataset_id(folder, _root_name(probe)))
        if combined := combine(descriptor.licenses):
            # The card speaks for its folder: files in it take this license rather than the root's.
            combined.source = probe.relpath
            out.license_files.append(LicenseFile(probe.relpath, folder, combined))

    @staticmethod
    def apply(artifact: Artifact, d: dd.Descriptor, probe: Probe) -> None:
        if d.name:
            artifact.properties["aibom:dataset:name"] = d.name
        if d.description:
            artifact.description = d.description
        for lic in d.licenses:
            lic.source = probe.relpath
            lic.acknowledgement = "declared"
        artifact.licenses = d.licenses
        if d.rows is not None:
            artifact.properties["aibom:dataset:rows"] = str(d.rows)
        artifact.properties.update(d.properties)
        artifact.properties[f"aibom:dataset:described-by:{d.kind}"] = probe.relpath
        artifact.provenance.extend(d.provenance)

    def describe(self, probe: Probe, fmt: str) -> dd.Descriptor:
        if fmt == "hf-dataset-card":
            text = probe.read_text(dd.MAX_FRONT_MATTER * 4) or probe.read(0, dd.MAX_FRONT_MATTER + 8).decode(
                "utf-8", "replace"
            )
            meta = dd.front_matter(text)
            if meta is None:
                raise FormatError("no front matter")
            return dd.parse_card(meta)
        text = probe.read_text(MAX_JSON_BYTES)
        if text is None:
            raise FormatError(f"larger than {MAX_JSON_BYTES} bytes or not text")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"invalid JSON: {str(exc)[:200]}") from None
        if not isinstance(doc, dict):
            raise FormatError("not a JSON object")
        if fmt == "hf-dataset-info":
            if probe.name == "dataset_infos.json":  # {config: info}: the first config describes the set
                first = next((v for v in doc.values() if isinstance(v, dict)), {})
                return dd.parse_dataset_info(first)
            return dd.parse_dataset_info(doc)
        if fmt == "hf-dataset-state":
            return dd.parse_state(doc)
        if fmt == "croissant":
            return dd.parse_croissant(doc)
        return dd.parse_datapackage(doc)

    def scan_dvc(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        text = probe.read_text(MAX_DVC_BYTES)
        if text is None:
            raise FormatError(f"larger than {MAX_DVC_BYTES} bytes or not text")
        doc = dd.parse_yaml_doc(text, MAX_DVC_BYTES)
        remote = self.default_remote(probe)
        entries = dd.parse_dvc_file(doc, remote) if fmt == "dvc-file" else dd.parse_dvc_lock(doc, remote)
        for d in entries:
            target = posixpath.normpath(posixpath.join(probe.folder, d.target or ""))
            if target.startswith("../") or target == ".." or target.startswith("/"):
                continue  # outside the scanned root: nothing aibom may describe
            if target.lower().endswith(_MODEL_EXTENSIONS):
                continue  # a model output, not data
            artifact = Artifact(
                kind=Kind.DATASET, name=posixpath.basename(target), ref=dataset_ref(target), format="dvc-tracked",
                evidence=[Evidence(probe.relpath)],
            )  # fmt: skip
            self.apply(artifact, d, probe)
            md5 = d.properties.get("aibom:dataset:dvc-md5", "")
            if re.fullmatch(r"[0-9a-f]{32}", md5):
                artifact.hashes["MD5"] = md5
            artifact.properties["aibom:dataset:path"] = target
            artifact.properties[DATASET_ID] = folder_dataset_id(target, _root_name(probe))
            out.artifacts.append(artifact)

    @staticmethod
    def default_remote(probe: Probe) -> str | None:
        """The default remote from the root's `.dvc/config`, read bounded and only inside the root."""
        config = os.path.join(probe.root, ".dvc", "config")
        readdeps.note(config)
        real = os.path.realpath(config)
        if not probe.root or not real.startswith(probe.root.rstrip(os.sep) + os.sep):
            return None
        try:
            cfg, _ = Probe.from_file(".dvc/config", real, probe.root)
            text = cfg.read_text(64 << 10)
        except ReadError:
            return None
        return dd.dvc_default_remote(text) if text else None
