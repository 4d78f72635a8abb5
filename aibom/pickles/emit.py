"""Turn an inspection Report into inventory terms: one artifact for the file, its findings and properties."""

from __future__ import annotations

from ..containers import Blob
from ..inventory import Artifact, Category, Finding, Kind, ModelInfo, Severity
from ..scanners.base import ScanOutput
from ..sniff import Probe
from .inspect import Report, inspect_blob
from .vm import Analysis

MAX_LISTED = 200  # imports listed in the aibom:pickle:globals property
MAX_FINDINGS = 100  # unsafe-code findings per file; the rest are summarised in one more
MODEL_CLASS_PREFIXES = ("sklearn.", "xgboost.", "lightgbm.", "torch.nn.", "catboost.")
REMEDIATION_UNSAFE = (
    "Do not load this file with pickle/torch.load/joblib.load. Get the weights as safetensors (or another format "
    "without code), or load with torch.load(weights_only=True) after checking its source."
)


def probe_blob(probe: Probe) -> Blob:
    return Blob(probe.read, probe.size, 0)


def inspect_probe(probe: Probe, known: Analysis | None = None) -> Report:
    """Inspect the probe's file; `known` is an analysis of its whole content made while identifying it."""
    return inspect_blob(probe_blob(probe), probe.name, known)


def emit(probe: Probe, fmt: str, report: Report, out: ScanOutput, kind: Kind | None = None) -> Artifact:
    """Add the file's artifact (a model when tensors or an estimator were found) and every finding."""
    if kind is None:
        is_model = report.model is not None or (
            report.estimator is not None and report.estimator.startswith(MODEL_CLASS_PREFIXES)
        )
        kind = Kind.MODEL if is_model else Kind.FILE
    artifact = out.file_artifact(probe, kind, fmt)
    if kind is Kind.MODEL:
        artifact.model = report.model or ModelInfo()
        if report.estimator and report.estimator.startswith(MODEL_CLASS_PREFIXES):
            # a pickled estimator or whole torch module: its class is the architecture
            artifact.model.architecture = report.estimator.rsplit(".", 1)[-1]
            artifact.model.architecture_family = report.estimator.split(".", 1)[0]
    if report.imports:
        listed = sorted(report.imports)
        more = f",...(+{len(listed) - MAX_LISTED} more)" if len(listed) > MAX_LISTED else ""
        artifact.properties["aibom:pickle:globals"] = ",".join(listed[:MAX_LISTED]) + more
    if report.pickles:
        artifact.properties["aibom:pickle:count"] = str(report.pickles)
    if report.layers:
        artifact.properties["aibom:container:layers"] = ",".join(dict.fromkeys(report.layers))
    if report.estimator:
        artifact.properties["aibom:pickle:root-callable"] = report.estimator
    for member, descr, shape in report.npy[:64]:
        key = f"aibom:numpy:{member}" if member else "aibom:numpy"
        artifact.properties[f"{key}:dtype"] = descr
        artifact.properties[f"{key}:shape"] = ",".join(map(str, shape))
    if any("O" in d for _, d, _ in report.npy):
        artifact.properties["aibom:numpy:object-array"] = "true"

    def add(rule: str, category: Category, severity: Severity, message: str, offset: int | None, fix: str) -> None:
        out.findings.append(
            Finding(rule, category, severity, f"{fmt}: {message}", probe.relpath, artifact.ref, fix, offset)
        )

    unsafe = sorted(report.unsafe, key=lambda p: p.severity is not Severity.ERROR)  # errors first, stable
    for p in unsafe[:MAX_FINDINGS]:
        rule = "pickle-unsafe-import" if p.severity is Severity.ERROR else "pickle-unlisted-import"
        add(rule, Category.UNSAFE_CODE, p.severity, p.message, p.offset, REMEDIATION_UNSAFE)
    if len(unsafe) > MAX_FINDINGS:
        rest = unsafe[MAX_FINDINGS:]
        worst = Severity.ERROR if any(p.severity is Severity.ERROR for p in rest) else Severity.WARNING
        add("pickle-unsafe-import", Category.UNSAFE_CODE, worst, f"{len(rest)} more unsafe imports or calls",
            None, REMEDIATION_UNSAFE)  # fmt: skip
    if report.torchscript:
        artifact.properties["aibom:torchscript:code"] = ",".join(report.code_members[:50])
        add(
            "torchscript-code",
            Category.UNSAFE_CODE,
            Severity.WARNING,
            f"TorchScript archive: {len(report.code_members)} code member(s) run when it is loaded with torch.jit.load",
            None,
            "Review the archive's code/ folder, or ship the weights as safetensors.",
        )
    for p in report.unreadable:
        artifact.properties["aibom:unreadable"] = "true"
        add(
            "unreadable-file",
            Category.UNREADABLE,
            p.severity,
            p.message,
            p.offset,
            "Replace the file with a valid one, or remove it; it cannot be verified as is.",
        )
    for p in report.integrity:
        add(
            "archive-limits",
            Category.INTEGRITY,
            p.severity,
            p.message,
            p.offset,
            "Remove the file: it exceeds aibom's limits for archives (a bomb or a deliberately nested archive).",
        )
    return artifact
