"""SPDX 2.3 JSON output: written with spdx-tools, valid by spdx-tools' own parser and validator, deterministic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from aibom.bom import spdx2
from aibom.inventory import Artifact, Finding, Inventory, Kind, License, ModelInfo

from conftest import run_aibom


def _project(root: Path) -> Path:
    (root / "models/m").mkdir(parents=True)
    save_file({"w": np.zeros((8, 8), dtype=np.float32)}, str(root / "models/m/model.safetensors"))
    (root / "requirements.txt").write_text("torch==2.3.0\n")
    (root / "LICENSE").write_text("SPDX-License-Identifier: Apache-2.0\n")
    (root / "models/m/LICENSE").write_text("SPDX-License-Identifier: MIT OR Apache-2.0\n")
    (root / "blob.dat").write_bytes(b"\x00\x01\x02\x03opaque")
    return root


def _by_name(doc: dict, name: str) -> dict:
    return next(p for p in doc["packages"] if p["name"] == name)


def test_scan_writes_valid_spdx23(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    out = tmp_path / "bom.spdx.json"
    proc = run_aibom("scan", str(root), "-q", "--format", "spdx-json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    parsed = parse_file(str(out))
    assert validate_full_spdx_document(parsed) == []
    doc = json.loads(out.read_text())
    assert doc["spdxVersion"] == "SPDX-2.3"
    root_pkg = _by_name(doc, "proj")
    assert root_pkg["licenseDeclared"] == "Apache-2.0"
    model = _by_name(doc, "m")
    assert model["primaryPackagePurpose"] == "OTHER"
    assert model["packageFileName"] == "models/m/model.safetensors"
    assert model["licenseConcluded"] == "MIT OR Apache-2.0"
    assert model["licenseDeclared"] == "NOASSERTION"
    facts = json.loads(model["comment"])
    assert facts["aibom:kind"] == "machine-learning-model"
    assert facts["aibom:model:parameterCount"] == "64"
    data = (root / "models/m/model.safetensors").read_bytes()
    assert model["checksums"] == [{"algorithm": "SHA256", "checksumValue": hashlib.sha256(data).hexdigest()}]
    torch = _by_name(doc, "torch")
    assert torch["versionInfo"] == "2.3.0"
    assert torch["externalRefs"][0]["referenceLocator"] == "pkg:pypi/torch@2.3.0"
    blob = _by_name(doc, "blob.dat")
    assert blob["primaryPackagePurpose"] == "FILE"
    rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
    assert ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Package-root") in rels
    assert ("SPDXRef-Package-root", "CONTAINS", model["SPDXID"]) in rels
    assert ("SPDXRef-Package-root", "DEPENDS_ON", torch["SPDXID"]) in rels


def test_spdx23_is_deterministic(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    texts = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        proc = run_aibom("scan", str(root), "-q", "--no-cache", "--format", "spdx-json", "-o", str(out), env=env)
        assert proc.returncode == 0, proc.stderr
        texts.append(out.read_bytes())
    assert texts[0] == texts[1]
    doc = json.loads(texts[0])
    assert doc["creationInfo"]["created"] == "2023-11-14T22:13:20Z"
    assert doc["documentNamespace"].startswith("https://spdx.org/spdxdocs/aibom/proj-")
    (root / "notes.bin").write_bytes(b"\x00\xff" * 10)
    out = tmp_path / "c.json"
    run_aibom("scan", str(root), "-q", "--format", "spdx-json", "-o", str(out), env=env)
    assert json.loads(out.read_text())["documentNamespace"] != doc["documentNamespace"]


def test_lineage_licenses_and_findings(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    base = Artifact(Kind.MODEL, "base", "hf:org/base", licenses=[License(expression="Apache-2.0")])
    data = Artifact(Kind.DATASET, "corpus", "path:data/corpus.parquet", sha256="ab" * 32)
    model = Artifact(
        Kind.MODEL,
        "tuned",
        "path:models/tuned.safetensors",
        sha256="cd" * 32,
        licenses=[License(name="Llama 3 Community License", url="https://example.com/llama3")],
        model=ModelInfo(parameter_count=7, task="text-generation"),
    )
    model.ancestors = [base.ref]  # type: ignore[attr-defined]  # field from the HF branch
    model.depends_on = [data.ref, base.ref]  # type: ignore[attr-defined]
    inv = Inventory(root_name="proj", artifacts=[base, data, model])
    inv.findings.append(
        Finding("r1", "missing-license", "warning", "no license", location="data/corpus.parquet", component=data.ref)
    )
    doc = json.loads(spdx2.render(inv))
    ids = {p["name"]: p["SPDXID"] for p in doc["packages"]}
    rels = {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}
    assert (ids["tuned"], "DESCENDANT_OF", ids["base"]) in rels
    assert (ids["tuned"], "DEPENDS_ON", ids["corpus"]) in rels
    assert (ids["tuned"], "DEPENDS_ON", ids["base"]) not in rels  # said precisely by DESCENDANT_OF
    tuned = next(p for p in doc["packages"] if p["name"] == "tuned")
    ref = tuned["licenseDeclared"]
    assert ref.startswith("LicenseRef-Llama-3-Community-License-")
    extracted = {e["licenseId"]: e for e in doc["hasExtractedLicensingInfos"]}
    assert extracted[ref]["name"] == "Llama 3 Community License"
    assert extracted[ref]["seeAlsos"] == ["https://example.com/llama3"]
    notes = [a for p in doc["packages"] for a in p.get("annotations", [])]
    assert len(notes) == 1
    assert json.loads(notes[0]["comment"].removeprefix("aibom:finding "))["category"] == "missing-license"
