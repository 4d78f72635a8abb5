"""Core ML: `.mlmodel` protobuf specifications (read from the wire format) and `.mlpackage` manifests.

From a spec: specificationVersion, the model type (the `Model.Type` oneof), input/output counts and
the description metadata (author, license, short description, versionString, user-defined entries).
A `.mlpackage` is a folder: its `Manifest.json` names the root model file, which must be present.
"""

from __future__ import annotations

import json
import os
import re

from .. import readdeps
from ..bytecursor import Cursor
from ..inventory import Category, Finding, Kind, License, ModelInfo, Severity
from ..license_ids import spdx_expression
from ..protowire import LEN, VARINT, Budget, WireError, fields, peek_fields, text
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput

MAX_FIELDS = 200_000
MAX_TEXT = 4096
MAX_MANIFEST = 1 << 20

#: Model.Type oneof (Model.proto): field number -> name.
MODEL_TYPES = {
    200: "pipelineClassifier", 201: "pipelineRegressor", 202: "pipeline", 300: "glmRegressor",
    301: "supportVectorRegressor", 302: "treeEnsembleRegressor", 303: "neuralNetworkRegressor",
    304: "bayesianProbitRegressor", 400: "glmClassifier", 401: "supportVectorClassifier",
    402: "treeEnsembleClassifier", 403: "neuralNetworkClassifier", 404: "kNearestNeighborsClassifier",
    500: "neuralNetwork", 501: "itemSimilarityRecommender", 502: "mlProgram", 555: "customModel",
    556: "linkedModel", 560: "classConfidenceThresholding", 600: "oneHotEncoder", 601: "imputer",
    602: "featureVectorizer", 603: "dictVectorizer", 604: "scaler", 606: "categoricalMapping",
    607: "normalizer", 609: "arrayFeatureExtractor", 610: "nonMaximumSuppression", 900: "identity",
    2000: "textClassifier", 2001: "wordTagger", 2002: "visionFeaturePrint", 2003: "soundAnalysisPreprocessing",
    2004: "gazetteer", 2005: "wordEmbedding", 2006: "audioFeaturePrint", 3000: "serializedModel",
}  # fmt: skip
_METADATA = {1: "shortDescription", 2: "versionString", 3: "author", 4: "license"}
_PACKAGE_MODEL = re.compile(r"(?:^|/)([^/]+)\.mlpackage/Data/com\.apple\.CoreML/[^/]+$")


def looks_like_mlmodel(head: bytes, name: str) -> bool:
    if len(head) < 2 or head[0] != 0x08 or not 1 <= head[1] <= 64:
        return False
    if name.lower().endswith(".mlmodel"):
        return True
    seen = peek_fields(head, 16)
    if not seen or len(seen) < 3:
        return False
    allowed = all(num in (1, 2, 10) or num in MODEL_TYPES for num, _, _ in seen)
    return allowed and seen[1][0] == 2 and any(num in MODEL_TYPES for num, _, _ in seen)


def parse_spec(probe: Probe) -> tuple[dict[str, str], dict[str, str], int, int]:
    """(facts, user-defined metadata, input count, output count) of a Core ML spec."""
    cur = Cursor(probe)
    budget = Budget(MAX_FIELDS)
    facts: dict[str, str] = {}
    user: dict[str, str] = {}
    inputs = outputs = 0
    for num, wt, val in fields(cur, cur.end, budget):
        if num == 1 and wt == VARINT:
            facts["specificationVersion"] = str(val)
        elif num == 10 and wt == VARINT:
            facts["isUpdatable"] = "true" if val else "false"
        elif num in MODEL_TYPES and wt == LEN:
            facts["type"] = MODEL_TYPES[num]
        elif num == 2 and wt == LEN:
            for n2, w2, v2 in fields(cur, cur.pos + val, budget):
                if n2 == 1 and w2 == LEN:
                    inputs += 1
                elif n2 == 10 and w2 == LEN:
                    outputs += 1
                elif n2 == 100 and w2 == LEN:
                    for n3, w3, v3 in fields(cur, cur.pos + v2, budget):
                        if n3 in _METADATA and w3 == LEN:
                            facts[_METADATA[n3]] = text(cur, v3, MAX_TEXT)
                        elif n3 == 100 and w3 == LEN and len(user) < 1000:
                            key = value = ""
                            for n4, w4, v4 in fields(cur, cur.pos + v3, budget):
                                if n4 == 1 and w4 == LEN:
                                    key = text(cur, v4, MAX_TEXT)
                                elif n4 == 2 and w4 == LEN:
                                    value = text(cur, v4, MAX_TEXT)
                            user[key] = value
    if "specificationVersion" not in facts:
        raise WireError("no specificationVersion: not a Core ML model")
    return facts, user, inputs, outputs


def _is_manifest(probe: Probe) -> bool:
    return (
        probe.name == "Manifest.json"
        and probe.folder.endswith(".mlpackage")
        and b"itemInfoEntries" in probe.head
        and b"fileFormatVersion" in probe.head
    )


@register
class CoreMLScanner(Scanner):
    family = "coreml"
    priority = 52

    def identify(self, probe: Probe) -> str | None:
        if looks_like_mlmodel(probe.head, probe.name):
            return "coreml"
        if _is_manifest(probe):
            return "coreml-package-manifest"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        if fmt == "coreml-package-manifest":
            self._manifest(probe, fmt, out)
            return
        try:
            facts, user, inputs, outputs = parse_spec(probe)
        except WireError as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        package = _PACKAGE_MODEL.search(probe.relpath)
        stem = package[1] if package else probe.name.rsplit(".", 1)[0]
        artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=stem)
        artifact.model = ModelInfo(architecture=facts.get("type"))
        artifact.version = facts.get("versionString")
        artifact.description = facts.get("shortDescription")
        if package:
            artifact.properties["aibom:coreml:package"] = package[0].split("/Data/")[0].lstrip("/")
        for key, value in facts.items():
            artifact.properties[f"aibom:coreml:{key}"] = value
        artifact.properties["aibom:coreml:inputs"] = str(inputs)
        artifact.properties["aibom:coreml:outputs"] = str(outputs)
        for key, value in user.items():
            artifact.properties[f"aibom:coreml:metadata:{key}"] = value
        if lic := facts.get("license", "").strip():
            expr = spdx_expression(lic)
            artifact.licenses.append(License(expression=expr, name=None if expr else lic, source=probe.relpath))
        if facts.get("type") == "customModel":
            out.findings.append(
                Finding(
                    rule="coreml-custom-model",
                    category=Category.UNSAFE_CODE,
                    severity=Severity.WARNING,
                    message="Core ML customModel: the app must supply code that implements the model",
                    location=probe.relpath,
                    component=artifact.ref,
                    remediation="Review the custom implementation shipped with the model.",
                )
            )

    def _manifest(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        raw = probe.read_text(MAX_MANIFEST)
        try:
            doc = json.loads(raw or "")
            entries = doc["itemInfoEntries"]
            root_id = doc.get("rootModelIdentifier")
            if not isinstance(entries, dict):
                raise ValueError("itemInfoEntries is not an object")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            out.unreadable(probe, fmt, f"invalid Manifest.json ({type(exc).__name__})")
            return
        artifact = out.file_artifact(probe, Kind.FILE, fmt)
        artifact.properties["aibom:coreml:package"] = probe.folder
        root = entries.get(root_id) if isinstance(root_id, str) else None
        path = root.get("path") if isinstance(root, dict) else None
        if not isinstance(path, str):
            out.findings.append(self._integrity(probe, artifact.ref, "names no root model"))
            return
        artifact.properties["aibom:coreml:root_model"] = path
        parts = path.replace("\\", "/").split("/")
        target = os.path.join(os.path.dirname(probe.path), "Data", *parts)
        readdeps.note(target)
        if ".." in parts or path.startswith("/") or not os.path.isfile(target):
            out.findings.append(self._integrity(probe, artifact.ref, f"root model Data/{path} is missing"))

    @staticmethod
    def _integrity(probe: Probe, ref: str, problem: str) -> Finding:
        return Finding(
            rule="coreml-package-incomplete",
            category=Category.INTEGRITY,
            severity=Severity.ERROR,
            message=f"Core ML package {probe.folder}: {problem}",
            location=probe.relpath,
            component=ref,
            remediation="Ship the complete .mlpackage folder.",
        )
