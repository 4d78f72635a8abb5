"""The CycloneDX output: schema-valid in every format and version, deterministic, with the BOM conventions."""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator
from safetensors.numpy import save_file

from conftest import component_at, findings_of, prop, run_aibom, scan_json

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sentiment-demo"
OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"


def _project(root: Path) -> Path:
    """A small project with every kind of thing the foundation understands."""
    (root / "models/m").mkdir(parents=True)
    save_file({"w": np.zeros((8, 8), dtype=np.float32)}, str(root / "models/m/model.safetensors"))
    (root / "models/big.safetensors").write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 123456789\n"
    )
    (root / "data").mkdir()
    (root / "data/train.parquet").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 9\n")
    (root / "requirements.txt").write_text("torch==2.3.0\nnumpy>=1.26 ; python_version>'3.9'\n")
    (root / "LICENSE").write_text("SPDX-License-Identifier: Apache-2.0\n")
    (root / "models/m/LICENSE").write_text("SPDX-License-Identifier: MIT OR Apache-2.0\n")
    (root / "tool.so").write_bytes(b"\x7fELF" + b"\x00" * 60)
    (root / "blob.dat").write_bytes(b"\x00\x01\x02\x03opaque")
    (root / "notes.md").write_text("# notes\n")
    return root


CASES = [
    ("cyclonedx-json", "1.6"),
    ("cyclonedx-json", "1.7"),
    ("cyclonedx-xml", "1.6"),
    ("cyclonedx-xml", "1.7"),
]


@pytest.mark.parametrize(("fmt", "version"), CASES)
def test_every_format_and_version_validates(tmp_path: Path, fmt: str, version: str) -> None:
    root = _project(tmp_path / "proj")
    out = tmp_path / "bom.out"
    proc = run_aibom("scan", str(root), "-o", str(out), "--format", fmt, "--spec-version", version)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    schema = {"1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}[version]
    if fmt == "cyclonedx-json":
        assert JsonStrictValidator(schema).validate_str(text) is None
        doc = json.loads(text)
        assert doc["specVersion"] == version
        model = component_at(doc, "models/m/model.safetensors")
        assert prop(model["modelCard"], "cdx:ai-ml:model:parameter:count") == "64"
    else:
        assert XmlValidator(schema).validate_str(text) is None
        ns = {"c": f"http://cyclonedx.org/schema/bom/{version}"}
        tree = ET.fromstring(text)
        cards = tree.findall(".//c:component/c:modelCard", ns)
        assert len(cards) == 2  # the safetensors file and the LFS pointer named like one
        counts = {p.text for p in tree.findall(".//c:modelCard/c:properties/c:property", ns)}
        assert "64" in counts


def test_bom_conventions(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    bom = scan_json(root)
    assert bom["metadata"]["tools"]["components"][0]["name"] == "aibom"
    assert bom["metadata"]["component"]["licenses"] == [
        {"license": {"id": "Apache-2.0", "acknowledgement": "declared"}}
    ]
    model = component_at(bom, "models/m/model.safetensors")
    assert (
        model["hashes"][0]["content"] == hashlib.sha256((root / "models/m/model.safetensors").read_bytes()).hexdigest()
    )
    # The folder's own license wins over the root's, as a concluded license.
    assert model["licenses"] == [{"expression": "MIT OR Apache-2.0", "acknowledgement": "concluded"}]
    pointer = component_at(bom, "models/big.safetensors")
    assert pointer["type"] == "machine-learning-model"
    assert pointer["hashes"] == [{"alg": "SHA-256", "content": OID}]
    assert prop(pointer, "aibom:size") == "123456789"
    data = component_at(bom, "data/train.parquet")
    assert data["type"] == "data" and data["data"][0]["type"] == "dataset"
    assert component_at(bom, "tool.so")["type"] == "file"
    blob = component_at(bom, "blob.dat")
    assert prop(blob, "aibom:format") == "unknown-binary"
    torch = next(c for c in bom["components"] if c["name"] == "torch")
    assert torch["purl"] == "pkg:pypi/torch@2.3.0"
    assert torch["evidence"]["occurrences"] == [{"location": "requirements.txt", "line": 1}]
    numpy_ = next(c for c in bom["components"] if c["name"] == "numpy")
    assert "version" not in numpy_ and prop(numpy_, "aibom:requirement:marker") == 'python_version > "3.9"'
    assert not any(c["name"] == "notes.md" for c in bom["components"])
    for comp in bom["components"]:
        if comp["type"] != "library":
            assert comp["hashes"][0]["alg"] == "SHA-256"
            assert comp["evidence"]["occurrences"][0]["location"] in comp["bom-ref"]
    root_deps = next(d for d in bom["dependencies"] if d["ref"] == "aibom:root")["dependsOn"]
    assert model["bom-ref"] in root_deps and torch["bom-ref"] in root_deps
    lfs = [f for f in findings_of(bom) if f["rule"] == "lfs-object-missing"]
    assert sorted(f["location"] for f in lfs) == ["data/train.parquet", "models/big.safetensors"]
    assert all(f["category"] == "integrity" for f in lfs)


@pytest.mark.parametrize("fmt", ["cyclonedx-json", "cyclonedx-xml"])
def test_deterministic_with_source_date_epoch(tmp_path: Path, fmt: str) -> None:
    root = _project(tmp_path / "a" / "proj")
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    first = run_aibom("scan", str(root), "--format", fmt, env=env)  # cold cache
    second = run_aibom("scan", str(root), "--format", fmt, env=env)  # warm cache
    third = run_aibom("scan", str(root), "--format", fmt, "--no-cache", "-j", "1", env=env)
    moved = tmp_path / "b" / "proj"
    shutil.copytree(root, moved)
    fourth = run_aibom("scan", str(moved), "--format", fmt, env=env)  # other path, other inodes
    assert first.returncode == 0, first.stderr
    for other in (second, third, fourth):
        diff = difflib.unified_diff(first.stdout.splitlines(), other.stdout.splitlines(), lineterm="", n=2)
        assert other.stdout == first.stdout, "\n".join(diff)
    assert "2023-11-14T22:13:20" in first.stdout
    changed = run_aibom("scan", str(root), "--format", fmt, env={"SOURCE_DATE_EPOCH": "1700000001"})
    assert changed.stdout != first.stdout  # the serial number follows the content


def test_serial_numbers_differ_between_projects(tmp_path: Path) -> None:
    a = _project(tmp_path / "a")
    b = _project(tmp_path / "b")
    (b / "extra.bin").write_bytes(b"\x00extra")
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    assert scan_json(a, env=env)["serialNumber"] != scan_json(b, env=env)["serialNumber"]


def test_example_project_bom(tmp_path: Path) -> None:
    """The README's first command: the example's model has the right hash, parameter count and dtype."""
    out = tmp_path / "example.cdx.json"
    proc = run_aibom("scan", str(EXAMPLE), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    bom = json.loads(out.read_text())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.read_text()) is None
    weights = EXAMPLE / "models/sentiment-tiny/model.safetensors"
    model = next(c for c in bom["components"] if c["type"] == "machine-learning-model")
    assert model["name"] == "sentiment-tiny"
    # the model directory is the model; its weight file is a nested part with the hash
    part = next(c for c in model["components"] if c["bom-ref"] == "path:models/sentiment-tiny/model.safetensors")
    assert part["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(weights.read_bytes()).hexdigest()}]
    assert prop(model["modelCard"], "cdx:ai-ml:model:parameter:count") == "33155"
    assert prop(model["modelCard"], "cdx:ai-ml:model:dtype") == "F32"
    params = model["modelCard"]["modelParameters"]
    assert (params["task"], params["inputs"], params["outputs"]) == (
        "text-classification",
        [{"format": "text"}],
        [{"format": "label"}],
    )
    assert {c["name"] for c in bom["components"] if c["type"] == "library"} >= {"numpy", "safetensors", "pandas"}
    assert bom["metadata"]["component"]["licenses"][0]["license"]["id"] == "MIT"


def test_license_parsing_is_thread_safe(tmp_path: Path) -> None:
    """Many license files parsed at once by the worker threads all resolve (a race once broke this)."""
    for i in range(40):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "LICENSE").write_text("SPDX-License-Identifier: MIT OR Apache-2.0\n")
        (folder / "w.bin").write_bytes(b"\x00" + bytes([i]))
    bom = scan_json(tmp_path, "--no-cache", "-j", "16")
    assert findings_of(bom) == []
    assert all(c["licenses"][0]["expression"] == "MIT OR Apache-2.0" for c in bom["components"])


def test_an_invalid_bom_is_refused_loudly() -> None:
    """aibom validates its own output: a malformed value is a bug that stops the write."""
    from aibom.bom.cdx_basics import InvalidBom
    from aibom.bom.formats import render
    from aibom.inventory import Artifact, Evidence, Inventory, Kind

    bad = Artifact(kind=Kind.FILE, name="x", ref="path:x", sha256="not-hex", evidence=[Evidence("x")])
    with pytest.raises(InvalidBom, match=r"does not match"):
        render(Inventory(root_name="r", artifacts=[bad]))
    with pytest.raises(InvalidBom):
        render(Inventory(root_name="r", artifacts=[bad]), "cyclonedx-xml", "1.7")
