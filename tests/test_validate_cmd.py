"""`aibom validate`: any CycloneDX or SPDX document, offline, with exact errors and exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from aibom.bom.doc_validate import errors_of
from aibom.bom.docs import Unreadable, identify

from conftest import run_aibom


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("docs")
    root = base / "proj"
    (root / "m").mkdir(parents=True)
    save_file({"w": np.ones((4, 4), dtype=np.float16)}, str(root / "m/model.safetensors"))
    (root / "LICENSE").write_text("SPDX-License-Identifier: MIT\n")
    out = {}
    for name, args in {
        "cdx16.json": ("--format", "cyclonedx-json"),
        "cdx17.xml": ("--format", "cyclonedx-xml", "--spec-version", "1.7"),
        "bom.spdx.json": ("--format", "spdx-json"),
    }.items():
        proc = run_aibom("scan", str(root), "-q", "--no-cache", "-o", str(base / name), *args)
        assert proc.returncode == 0, proc.stderr
        out[name] = base / name
    return out


@pytest.mark.parametrize(
    ("name", "label"),
    [("cdx16.json", "CycloneDX 1.6 JSON"), ("cdx17.xml", "CycloneDX 1.7 XML"), ("bom.spdx.json", "SPDX 2.3 JSON")],
)
def test_valid_documents(documents: dict[str, Path], name: str, label: str) -> None:
    proc = run_aibom("validate", str(documents[name]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{documents[name]}: valid {label}\n"


def test_invalid_cyclonedx_json(documents: dict[str, Path], tmp_path: Path) -> None:
    doc = json.loads(documents["cdx16.json"].read_text())
    doc["metadata"]["timestamp"] = "yesterday"
    doc["components"][0]["type"] = "bogus"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    proc = run_aibom("validate", str(bad))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{bad}: invalid CycloneDX 1.6 JSON: 2 error(s)"
    assert "  /metadata/timestamp: 'yesterday' is not a 'date-time'" in lines
    assert any(line.startswith("  /components/0/type: 'bogus' is not one of ['application',") for line in lines)
    report = json.loads(run_aibom("validate", "--format", "json", str(bad)).stdout)
    assert report["valid"] is False
    assert {"path": "/metadata/timestamp", "message": "'yesterday' is not a 'date-time'"} in report["errors"]


def test_invalid_cyclonedx_xml(documents: dict[str, Path], tmp_path: Path) -> None:
    text = documents["cdx17.xml"].read_text().replace('type="machine-learning-model"', 'type="nope"')
    bad = tmp_path / "bad.xml"
    bad.write_text(text)
    proc = run_aibom("validate", str(bad))
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == f"{bad}: invalid CycloneDX 1.7 XML: 1 error(s)"
    assert "attribute 'type': [facet 'enumeration'] The value 'nope' is not an element of the set" in proc.stdout


def test_invalid_spdx2(documents: dict[str, Path], tmp_path: Path) -> None:
    doc = json.loads(documents["bom.spdx.json"].read_text())
    model = next(p for p in doc["packages"] if p["name"] == "m")
    model["licenseDeclared"] = "NOT-A-LICENSE"
    bad = tmp_path / "bad.spdx.json"
    bad.write_text(json.dumps(doc))
    proc = run_aibom("validate", str(bad))
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1] == (
        f"  {model['SPDXID']} (license_expression): Unrecognized license reference: NOT-A-LICENSE. license_expression"
        " must only use IDs from the license list or extracted licensing info, but is: NOT-A-LICENSE"
    )


def test_syft_style_cyclonedx15_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "syft.cdx.json"
    path.write_text(json.dumps(SYFT_BOM))
    proc = run_aibom("validate", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.endswith("valid CycloneDX 1.5 JSON\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON: Expecting value at line 1 column 1"),
        (b"\xff\xfe\x00", "is not UTF-8 text (byte 0)"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.1"}', "CycloneDX specVersion '1.1' is not supported"),
        (b'{"hello": 1}', "not a CycloneDX or SPDX document"),
        (b"[" * 100_000, "JSON nested too deeply"),
        (b"<html/>", "XML root html is not a CycloneDX bom"),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "XML root x is not a CycloneDX bom"),
        (b'{"spdxVersion": "SPDX-2.1"}', "SPDX-2.1 is not supported"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "x": ' + b"[" * 150 + b"]" * 150 + b"}", "nested deeper"),
        (b"<bom>" + b"<a>" * 150 + b"</a>" * 150 + b"</bom>", "XML nested deeper than 100 levels"),
    ],
)
def test_unreadable_documents(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "doc"
    path.write_bytes(content)
    proc = run_aibom("validate", str(path))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_missing_file(tmp_path: Path) -> None:
    proc = run_aibom("validate", str(tmp_path / "nope.json"))
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_documents_never_crash(documents: dict[str, Path], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(documents)))
    text = documents[name].read_text()
    cut = data.draw(st.integers(0, len(text)))
    pos = data.draw(st.integers(0, max(0, cut - 1)))
    junk = data.draw(st.text(max_size=8))
    mutated = text[:pos] + junk + text[pos + len(junk) : cut]
    try:
        doc = identify(mutated)
    except Unreadable:
        return
    errors = errors_of(doc, 5)
    assert len(errors) <= 5
    assert all(isinstance(w, str) and isinstance(m, str) for w, m in errors)


SYFT_BOM = {
    "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    "version": 1,
    "metadata": {
        "timestamp": "2026-11-01T10:00:00Z",
        "tools": {"components": [{"type": "application", "author": "anchore", "name": "syft", "version": "1.18.0"}]},
        "component": {"bom-ref": "af63bd4c8601b7f1", "type": "container", "name": "app:latest", "version": "sha256:1"},
    },
    "components": [
        {
            "bom-ref": "pkg:pypi/numpy@1.26.4?package-id=1b2f3c4d5e6f7a8b",
            "type": "library",
            "name": "numpy",
            "version": "1.26.4",
            "licenses": [{"license": {"id": "BSD-3-Clause"}}],
            "purl": "pkg:pypi/numpy@1.26.4",
            "properties": [{"name": "syft:package:type", "value": "python"}],
        },
        {
            "bom-ref": "pkg:deb/debian/libc6@2.36-9?arch=amd64&package-id=9a8b7c6d5e4f3a2b",
            "type": "library",
            "name": "libc6",
            "version": "2.36-9",
            "purl": "pkg:deb/debian/libc6@2.36-9?arch=amd64",
        },
    ],
    "dependencies": [
        {
            "ref": "pkg:pypi/numpy@1.26.4?package-id=1b2f3c4d5e6f7a8b",
            "dependsOn": ["pkg:deb/debian/libc6@2.36-9?arch=amd64&package-id=9a8b7c6d5e4f3a2b"],
        }
    ],
}
