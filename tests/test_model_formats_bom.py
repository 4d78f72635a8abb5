"""All model formats of this family in one tree, through the real CLI: valid BOMs, no scanner crashes."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from coremltools.models.utils import save_spec
from direct_scan import is_unreadable, mutate, only_artifact, scan_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_coreml_llamafile import make_llamafile, make_spec
from test_gguf import write_gguf
from test_onnx import make_model
from test_tflite_savedmodel import build_saved_model, build_tflite

from aibom.inventory import Kind

from conftest import component_at, findings_of, run_aibom, scan_json


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "models/sm").mkdir(parents=True)
    write_gguf(root / "models/tiny.gguf")
    onnx.save_model(make_model(), str(root / "models/tiny.onnx"))
    (root / "models/tiny.tflite").write_bytes(build_tflite())
    (root / "models/sm/saved_model.pb").write_bytes(build_saved_model())
    save_spec(make_spec(), str(root / "models/glm.mlmodel"))
    make_llamafile(root / "models/tiny.llamafile", tmp_path)
    return root


EXPECTED = {
    "models/tiny.gguf": "gguf",
    "models/tiny.onnx": "onnx",
    "models/tiny.tflite": "tflite",
    "models/sm/saved_model.pb": "tf-savedmodel",
    "models/glm.mlmodel": "coreml",
    "models/tiny.llamafile": "llamafile",
}


@pytest.mark.parametrize("args", [(), ("--spec-version", "1.7")])
def test_every_format_is_a_model_component(tree: Path, args: tuple[str, ...]) -> None:
    bom = scan_json(tree, *args)
    for location, fmt in EXPECTED.items():
        comp = component_at(bom, location)
        assert comp["type"] == "machine-learning-model", location
        formats = [p["value"] for p in comp["modelCard"]["properties"] if p["name"] == "cdx:ai-ml:model:format"]
        assert formats == [fmt]
    assert sorted(f["rule"] for f in findings_of(bom)) == ["llamafile-executable"]


def test_xml_output_validates(tree: Path) -> None:
    proc = run_aibom("scan", str(tree), "-q", "--format", "cyclonedx-xml")
    assert proc.returncode == 0, proc.stderr
    assert "machine-learning-model" in proc.stdout


def test_hostile_tree_gives_unreadable_findings_not_crashes(tree: Path) -> None:
    for location in EXPECTED:
        path = tree / location
        data = path.read_bytes()
        path.write_bytes(data[: max(12, len(data) // 3)])
    bom = scan_json(tree)
    findings = findings_of(bom)
    assert not [f for f in findings if "please report" in f["message"]]
    unreadable = {f["location"] for f in findings if f["category"] == "unreadable"}
    # A llamafile cut before its zip directory is just an executable, no longer a llamafile.
    assert unreadable == set(EXPECTED) - {"models/tiny.llamafile"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), which=st.sampled_from(["saved_model.pb", "tiny.llamafile"]))
def test_mutations_never_escape(tree: Path, tmp_path: Path, data: st.DataObject, which: str) -> None:
    source = tree / ("models/sm/saved_model.pb" if which == "saved_model.pb" else "models/tiny.llamafile")
    folder = tmp_path / "mut"
    folder.mkdir(exist_ok=True)
    path = folder / which
    path.write_bytes(mutate(data, source.read_bytes()))
    fmt, out = scan_file(path)
    if fmt in ("tf-savedmodel", "llamafile"):
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


def test_llamafile_zip_bomb_directory(tmp_path: Path) -> None:
    path = make_llamafile(tmp_path / "b.llamafile", tmp_path)
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 10 : eocd + 12] = b"\xff\xff"  # entry count 0xFFFF: claims zip64 without its records
    path.write_bytes(bytes(data))
    fmt, _ = scan_file(path)
    # not a llamafile any more; the archive scanner takes the prefixed zip and inspects what it can
    assert fmt == "zip"
