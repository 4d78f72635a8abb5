"""Git LFS pointer files: the real content is elsewhere; the pointer names it by SHA-256 and size."""

from __future__ import annotations

import re

from ..inventory import Category, Finding, Kind, Provenance, Severity
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput

#: Pointers are tiny by specification; anything larger is not one.
MAX_POINTER = 1024
_SPECS = (b"version https://git-lfs.github.com/spec/v1", b"version https://hawser.github.com/spec/v1")
_OID = re.compile(r"^oid sha256:([0-9a-f]{64})$")
_SIZE = re.compile(r"^size (\d{1,20})$")

#: What the pointer's name suggests the fetched file would be (the content is not here to sniff).
MODEL_SUFFIXES = (
    ".safetensors", ".gguf", ".ggml", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".keras",
    ".tflite", ".mlmodel", ".pb", ".msgpack", ".pkl", ".pickle", ".joblib", ".npz", ".llamafile",
)  # fmt: skip
DATA_SUFFIXES = (".parquet", ".arrow", ".csv", ".tsv", ".jsonl", ".tfrecord", ".tar", ".feather", ".zip")


def pointer_kind(name: str) -> Kind:
    lower = name.lower()
    if lower.endswith(MODEL_SUFFIXES):
        return Kind.MODEL
    if lower.endswith(DATA_SUFFIXES):
        return Kind.DATASET
    return Kind.FILE


@register
class LfsPointerScanner(Scanner):
    family = "git-lfs"
    priority = 10

    def identify(self, probe: Probe) -> str | None:
        if probe.size <= MAX_POINTER and probe.head.startswith(_SPECS):
            return "git-lfs-pointer"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            lines = probe.head.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            out.unreadable(probe, fmt, "pointer is not UTF-8 text")
            return
        oid = size = None
        for line in lines[1:]:
            if m := _OID.match(line):
                oid = m.group(1)
            elif m := _SIZE.match(line):
                size = int(m.group(1))
        if oid is None or size is None:
            out.unreadable(probe, fmt, "pointer lacks a valid 'oid sha256:' or 'size' line")
            return
        artifact = out.file_artifact(probe, pointer_kind(probe.name), fmt, hash_content=False)
        artifact.sha256 = oid
        artifact.size = size
        artifact.properties["aibom:lfs:pointer"] = "true"
        artifact.provenance.append(Provenance("git-lfs", f"sha256:{oid}", f"{size} bytes"))
        out.findings.append(
            Finding(
                rule="lfs-object-missing",
                category=Category.INTEGRITY,
                severity=Severity.WARNING,
                message=f"Git LFS pointer: the {size}-byte object was not fetched, so its content is unverified",
                location=probe.relpath,
                component=artifact.ref,
                remediation="Run `git lfs pull` before scanning so the real file can be inspected.",
            )
        )
