"""SPDX 3.0.1 JSON-LD with the AI and Dataset profiles: content, lineage, profile rules, determinism, hostile input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file
from spdx_python_model import v3_0_1 as spdx

from aibom.bom import spdx3
from aibom.inventory import Artifact, Finding, Inventory, Kind, License, ModelInfo

from conftest import run_aibom


def _lineage_inventory() -> Inventory:
    base = Artifact(Kind.MODEL, "base", "hf:org/base", licenses=[License(expression="Apache-2.0")])
    data = Artifact(Kind.DATASET, "corpus", "path:data/corpus.parquet", format="parquet", sha256="ab" * 32, size=9)
    model = Artifact(
        Kind.MODEL,
        "tuned",
        "path:models/tuned.safetensors",
        sha256="cd" * 32,
        licenses=[License(name="Llama 3 Community License", url="https://example.com/llama3")],
        model=ModelInfo(parameter_count=7, architecture_family="llama", task="text-generation"),
    )
    model.ancestors = [base.ref]  # type: ignore[attr-defined]  # fields from the HF branch, read defensively
    model.depends_on = [data.ref, base.ref]  # type: ignore[attr-defined]
    lib = Artifact(Kind.LIBRARY, "torch", "pkg:pypi/torch@2.3.0", version="2.3.0", purl="pkg:pypi/torch@2.3.0")
    inv = Inventory(root_name="proj", artifacts=[base, data, model, lib])
    inv.findings.append(
        Finding("r1", "missing-license", "warning", "no license", location="data/corpus.parquet", component=data.ref)
    )
    return inv


def _nodes(doc: dict, type_: str) -> list[dict]:
    return [n for n in doc["@graph"] if n["type"] == type_]


def test_ai_and_dataset_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    doc = json.loads(spdx3.render(_lineage_inventory()))
    assert doc["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    assert spdx3.validate_json(doc) == []
    models = {n["name"]: n for n in _nodes(doc, "ai_AIPackage")}
    tuned = models["tuned"]
    assert tuned["ai_typeOfModel"] == ["llama"]
    assert tuned["ai_informationAboutApplication"] == "task: text-generation"
    assert tuned["ai_informationAboutTraining"] == "Trained or evaluated on: corpus"
    assert {"type": "DictionaryEntry", "key": "parameterCount", "value": "7"} in tuned["ai_hyperparameter"]
    assert tuned["verifiedUsing"] == [{"type": "Hash", "algorithm": "sha256", "hashValue": "cd" * 32}]
    (dataset,) = _nodes(doc, "dataset_DatasetPackage")
    assert dataset["dataset_datasetType"] == ["structured"]
    assert dataset["dataset_datasetSize"] == 9
    (lib,) = [n for n in _nodes(doc, "software_Package") if n["name"] == "torch"]
    assert lib["software_packageUrl"] == "pkg:pypi/torch@2.3.0"
    rels = {(r["from"], r["relationshipType"], tuple(r["to"])) for r in _nodes(doc, "Relationship")}
    assert (tuned["spdxId"], "trainedOn", (dataset["spdxId"],)) in rels
    assert (models["base"]["spdxId"], "ancestorOf", (tuned["spdxId"],)) in rels
    assert not any(r[0] == tuned["spdxId"] and r[1] == "dependsOn" for r in rels)  # base and data said precisely
    licenses = {n["spdxId"]: n for n in _nodes(doc, "simplelicensing_LicenseExpression")}
    (declared,) = [r for r in rels if r[0] == tuned["spdxId"] and r[1] == "hasDeclaredLicense"]
    expr = licenses[declared[2][0]]
    assert expr["simplelicensing_licenseExpression"].startswith("LicenseRef-Llama-3-Community-License-")
    (text,) = _nodes(doc, "simplelicensing_SimpleLicensingText")
    assert expr["simplelicensing_customIdToUri"][0]["value"] == text["spdxId"]
    assert text["name"] == "Llama 3 Community License"
    (note,) = _nodes(doc, "Annotation")
    assert note["subject"] == dataset["spdxId"]
    assert json.loads(note["statement"])["category"] == "missing-license"
    (sdoc,) = _nodes(doc, "SpdxDocument")
    assert set(sdoc["profileConformance"]) >= {"ai", "dataset", "core", "software", "simpleLicensing"}
    assert _nodes(doc, "CreationInfo")[0]["created"] == "2023-11-14T22:13:20Z"


def test_deterministic_and_reads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    first, second = spdx3.render(_lineage_inventory()), spdx3.render(_lineage_inventory())
    assert first == second
    objset = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().deserialize_data(json.loads(first), objset)
    assert objset.link() == set()
    assert len(list(objset.foreach_type(spdx.ai_AIPackage))) == 2


def test_scan_cli_writes_spdx3(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "m").mkdir(parents=True)
    save_file({"w": np.zeros((2, 3), dtype=np.float32)}, str(root / "m/model.safetensors"))
    (root / "LICENSE").write_text("SPDX-License-Identifier: MIT\n")
    out = tmp_path / "bom.spdx3.json"
    env = {"SOURCE_DATE_EPOCH": "1"}
    proc = run_aibom("scan", str(root), "-q", "--format", "spdx3-json", "-o", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    proc = run_aibom("validate", str(out))
    assert proc.returncode == 0 and proc.stdout.endswith("valid SPDX 3.0.1 JSON-LD\n")
    doc = json.loads(out.read_text())
    (model,) = _nodes(doc, "ai_AIPackage")
    assert model["ai_hyperparameter"][0] == {"type": "DictionaryEntry", "key": "parameterCount", "value": "6"}
    again = tmp_path / "again.json"
    run_aibom("scan", str(root), "-q", "--no-cache", "--format", "spdx3-json", "-o", str(again), env=env)
    assert again.read_bytes() == out.read_bytes()


def _broken(doc: dict, change) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    bad = copy.deepcopy(doc)
    change(bad)
    return spdx3.validate_json(bad)


def test_profile_and_structure_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    doc = json.loads(spdx3.render(_lineage_inventory()))
    tuned = next(n for n in _nodes(doc, "ai_AIPackage") if n["name"] == "tuned")

    def drop_declared(d: dict) -> None:
        d["@graph"] = [
            n
            for n in d["@graph"]
            if not (n.get("from") == tuned["spdxId"] and n.get("relationshipType") == "hasDeclaredLicense")
        ]

    errors = _broken(doc, drop_declared)  # the document's element list still names the dropped relationship
    assert len(errors) == 2
    assert errors[0][1] == "referenced but not defined in this document"
    assert errors[1] == (
        f"{tuned['spdxId']} (ai_AIPackage)",
        "ai profile: needs exactly one hasDeclaredLicense relationship, has 0",
    )

    def no_dataset_profile(d: dict) -> None:
        sdoc = next(n for n in d["@graph"] if n["type"] == "SpdxDocument")
        sdoc["profileConformance"].remove("dataset")

    ((where, message),) = _broken(doc, no_dataset_profile)
    assert message == "profileConformance must list 'dataset': the document has dataset elements"

    def no_type(d: dict) -> None:
        next(n for n in d["@graph"] if n["type"] == "dataset_DatasetPackage")["dataset_datasetType"] = []

    ((where, message),) = _broken(doc, no_type)
    assert where.endswith("(dataset_DatasetPackage)")
    assert message == "required property 'dataset_datasetType' is missing"

    def dangling(d: dict) -> None:
        next(n for n in d["@graph"] if n["type"] == "Relationship")["to"] = ["https://example.com/nowhere"]

    assert ("https://example.com/nowhere", "referenced but not defined in this document") in _broken(doc, dangling)

    def bad_enum(d: dict) -> None:
        next(n for n in d["@graph"] if n["type"] == "Relationship")["relationshipType"] = "likes"

    ((where, message),) = _broken(doc, bad_enum)
    assert where == "/@graph" and "likes" in message
    assert spdx3.validate_json({"@context": "x"}) == [
        ("/@context", "must be 'https://spdx.org/rdf/3.0.1/spdx-context.jsonld'")
    ]
    assert spdx3.validate_json({"@context": spdx3.CONTEXT, "@graph": 5}) == [("/@graph", "must be a list of objects")]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_spdx3_never_crashes(data: st.DataObject) -> None:
    text = spdx3.render(_lineage_inventory())
    cut = data.draw(st.integers(0, len(text)))
    pos = data.draw(st.integers(0, max(0, cut - 1)))
    junk = data.draw(st.text(max_size=6))
    mutated = text[:pos] + junk + text[pos + len(junk) : cut]
    try:
        doc = json.loads(mutated)
    except (ValueError, RecursionError):
        return
    errors = spdx3.validate_json(doc, 10)
    assert len(errors) <= 10
