"""`aibom diff` and `aibom merge` over real aibom BOMs of trees made here and a Syft-style CycloneDX 1.5 BOM."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file
from test_validate_cmd import SYFT_BOM

from aibom.bom.bom_view import view
from aibom.bom.diff import diff
from aibom.bom.docs import Unreadable, identify
from aibom.bom.merge import merge
from aibom.bom.validate import json_error_list

from conftest import run_aibom

OPEN = json.dumps({"category": "unreadable", "message": "truncated header", "rule": "AIB001", "severity": "error"})


def _tree(root: Path, *, version: bool) -> Path:
    (root / "m").mkdir(parents=True)
    weights = np.zeros((4, 4), dtype=np.float32) if version else np.ones((4, 4), dtype=np.float32)
    save_file({"w": weights}, str(root / "m/model.safetensors"))
    (root / "requirements.txt").write_text("numpy==1.26.4\n" + ("torch==2.3.0\n" if version else "torch==2.4.0\n"))
    (root / "LICENSE").write_text("SPDX-License-Identifier: " + ("MIT" if version else "Apache-2.0") + "\n")
    if version:
        (root / "old.bin").write_bytes(b"\x00\x01opaque")
    else:
        (root / "new.bin").write_bytes(b"\x00\x02opaque")
    return root


@pytest.fixture(scope="module")
def boms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("boms")
    out = {}
    for name, flag in (("old", True), ("new", False)):
        root = _tree(base / name / "proj", version=flag)
        for fmt, suffix in (("cyclonedx-json", "json"), ("cyclonedx-xml", "xml")):
            path = base / f"{name}.{suffix}"
            proc = run_aibom("scan", str(root), "-q", "--no-cache", "--format", fmt, "-o", str(path))
            assert proc.returncode == 0, proc.stderr
            out[f"{name}.{suffix}"] = path
    # The new BOM gets a finding, an openness level and a base model, as later branches write them.
    doc = json.loads(out["new.json"].read_text())
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    model["properties"].append({"name": "aibom:finding", "value": OPEN})
    model["properties"] = [p for p in model["properties"] if p["name"] != "aibom:openness"]
    model["properties"].append({"name": "aibom:openness", "value": "reproducible"})
    model["pedigree"] = {
        "ancestors": [{"type": "machine-learning-model", "name": "org/base", "bom-ref": "hf:org/base"}]
    }
    out["new.json"].write_text(json.dumps(doc))
    syft = base / "syft.json"
    syft.write_text(json.dumps(SYFT_BOM))
    out["syft.json"] = syft
    return out


def test_diff_text(boms: dict[str, Path]) -> None:
    proc = run_aibom("diff", str(boms["old.json"]), str(boms["new.json"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "Added components (1):\n"
        "  new.bin (new.bin)\n"
        "Removed components (1):\n"
        "  old.bin (old.bin)\n"
        "Changed components (4):\n"
        "  m (m/model.safetensors): sha256 "
        f"{_sha(boms['old.json'])} -> {_sha(boms['new.json'])}\n"
        "  m (m/model.safetensors): licenses MIT -> Apache-2.0\n"
        f"  m (m/model.safetensors): openness {_openness(boms['old.json'])} -> reproducible\n"
        "  torch@2.4.0 (requirements.txt): version 2.3.0 -> 2.4.0\n"
        "Lineage added (2):\n"
        "  (project) -> new.bin (new.bin)\n"
        "  m (m/model.safetensors) <- ancestor hf:org/base\n"
        "Lineage removed (1):\n"
        "  (project) -> old.bin (old.bin)\n"
        "New findings (1):\n"
        "  error [unreadable] m (m/model.safetensors): truncated header\n"
    )


def _openness(path: Path) -> str | None:
    doc = json.loads(path.read_text())
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    return next((p["value"] for p in model.get("properties", []) if p["name"] == "aibom:openness"), None)


def _sha(path: Path) -> str:
    doc = json.loads(path.read_text())
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    return model["hashes"][0]["content"]


def test_diff_fail_on_new_and_formats(boms: dict[str, Path]) -> None:
    old, new = str(boms["old.json"]), str(boms["new.json"])
    assert run_aibom("diff", old, new, "--fail-on-new", "error").returncode == 1
    assert run_aibom("diff", old, new, "--fail-on-new", "warning").returncode == 1
    back = run_aibom("diff", new, old, "--fail-on-new", "warning", "--format", "json")
    assert back.returncode == 0  # going back resolves the finding, it adds none
    report = json.loads(back.stdout)
    assert report["new_findings"] == []
    assert report["resolved_findings"][0]["rule"] == "AIB001"
    md = run_aibom("diff", old, new, "--format", "markdown").stdout
    assert md.startswith("## aibom: BOM changes\n\n1 added, 1 removed, 4 changed; 1 new and 0 resolved findings\n")
    assert "| error | unreadable | `m (m/model.safetensors)` | truncated header |" in md
    assert run_aibom("diff", old, old).stdout == "No differences.\n"


def test_diff_xml_against_json(boms: dict[str, Path]) -> None:
    proc = run_aibom("diff", str(boms["old.xml"]), str(boms["old.json"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "No differences.\n"
    proc = run_aibom("diff", str(boms["old.xml"]), str(boms["new.xml"]), "--format", "json")
    assert json.loads(proc.stdout)["added"] == ["new.bin (new.bin)"]


def test_diff_matches_syft_components_by_purl_when_refs_change() -> None:
    again = copy.deepcopy(SYFT_BOM)
    for comp in again["components"]:
        comp["bom-ref"] = comp["bom-ref"].replace("package-id=", "package-id=ff")
    again["components"][0]["version"] = "1.26.5"
    again["components"][0]["purl"] = "pkg:pypi/numpy@1.26.5"
    again["dependencies"] = []
    result = diff(view(identify(json.dumps(SYFT_BOM))), view(identify(json.dumps(again))))
    assert result.added == [] and result.removed == []
    assert [(c.component, c.field, c.old, c.new) for c in result.changed] == [
        ("numpy@1.26.5", "version", "1.26.4", "1.26.5")
    ]
    assert result.lineage_removed == ["numpy@1.26.5 -> libc6@2.36-9"]


def test_diff_unreadable_input(tmp_path: Path, boms: dict[str, Path]) -> None:
    spdx = tmp_path / "x.spdx.json"
    spdx.write_text('{"spdxVersion": "SPDX-2.3"}')
    proc = run_aibom("diff", str(spdx), str(boms["new.json"]))
    assert proc.returncode == 2
    assert "SPDX 2.3 JSON is not a CycloneDX BOM" in proc.stderr


def test_merge_with_syft(boms: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "merged.json"
    proc = run_aibom("merge", str(boms["new.json"]), str(boms["syft.json"]), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 duplicate component(s) merged" in proc.stderr
    assert run_aibom("validate", str(out)).returncode == 0
    doc = json.loads(out.read_text())
    assert doc["specVersion"] == "1.6"
    purls = [c.get("purl") for c in doc["components"]]
    assert purls.count("pkg:pypi/numpy@1.26.4") == 1
    assert "pkg:deb/debian/libc6@2.36-9?arch=amd64" in purls
    deps = {d["ref"]: d["dependsOn"] for d in doc["dependencies"]}
    # Syft's numpy ref now points at aibom's numpy component, which keeps Syft's edge to libc6.
    assert deps["pkg:pypi/numpy@1.26.4"] == ["pkg:deb/debian/libc6@2.36-9?arch=amd64&package-id=9a8b7c6d5e4f3a2b"]
    assert "af63bd4c8601b7f1" in deps["aibom:root"]  # the container is part of the merged subject
    assert doc["metadata"]["component"]["bom-ref"] == "aibom:root"
    names = [t["name"] for t in doc["metadata"]["tools"]["components"]]
    assert names == ["aibom", "syft"]
    again = tmp_path / "again.json"
    run_aibom("merge", str(boms["new.json"]), str(boms["syft.json"]), "-o", str(again))
    assert again.read_bytes() != b"" and json.loads(again.read_text())["components"] == doc["components"]


def test_merge_renames_colliding_refs() -> None:
    a = copy.deepcopy(SYFT_BOM)
    b = copy.deepcopy(SYFT_BOM)
    b["components"] = [
        {"bom-ref": "pkg:pypi/numpy@1.26.4?package-id=1b2f3c4d5e6f7a8b", "type": "library", "name": "other"}
    ]
    b["dependencies"] = [{"ref": "pkg:pypi/numpy@1.26.4?package-id=1b2f3c4d5e6f7a8b", "dependsOn": []}]
    b["metadata"]["component"]["bom-ref"] = "image-2"
    merged, notes = merge([a, b], "1.5")
    assert json_error_list(merged, __import__("cyclonedx.schema").schema.SchemaVersion.V1_5) == []
    refs = [c["bom-ref"] for c in merged["components"]]
    assert "pkg:pypi/numpy@1.26.4?package-id=1b2f3c4d5e6f7a8b#1" in refs
    assert len(refs) == len(set(refs))
    assert notes == []


def test_merge_refuses_non_cyclonedx(tmp_path: Path, boms: dict[str, Path]) -> None:
    xml = run_aibom("merge", str(boms["old.xml"]), str(boms["syft.json"]), "-o", str(tmp_path / "m.json"))
    assert xml.returncode == 2
    assert "CycloneDX 1.6 XML cannot be merged (CycloneDX JSON only)" in xml.stderr
    assert not (tmp_path / "m.json").exists()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mutated_boms_never_crash_diff_or_merge(data: st.DataObject) -> None:
    text = json.dumps(SYFT_BOM)
    cut = data.draw(st.integers(0, len(text)))
    pos = data.draw(st.integers(0, max(0, cut - 1)))
    junk = data.draw(st.text(max_size=6))
    mutated = text[:pos] + junk + text[pos + len(junk) : cut]
    try:
        doc = identify(mutated)
    except Unreadable:
        return
    if doc.kind != "cyclonedx":
        return
    diff(view(doc), view(identify(text)))
    if doc.syntax == "json":
        merge([doc.data, SYFT_BOM], "1.6")


def test_deeply_nested_boms_are_refused(tmp_path: Path, boms: dict[str, Path]) -> None:
    doc = copy.deepcopy(SYFT_BOM)
    comp = doc["components"][0]
    for i in range(60):  # 60 levels of nested components: 120 JSON levels
        comp["components"] = [{"type": "library", "name": f"n{i}", "bom-ref": f"r{i}"}]
        comp = comp["components"][0]
    deep = tmp_path / "deep.json"
    deep.write_text(json.dumps(doc))
    for args in (("validate", str(deep)), ("diff", str(deep), str(boms["new.json"]))):
        proc = run_aibom(*args)
        assert proc.returncode == 2
        assert proc.stderr == f"aibom: error: {deep}: JSON nested deeper than 100 levels\n"
    proc = run_aibom("merge", str(boms["new.json"]), str(deep), "-o", str(tmp_path / "out.json"))
    assert proc.returncode == 2
    assert not (tmp_path / "out.json").exists()
