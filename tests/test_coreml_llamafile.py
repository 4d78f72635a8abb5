"""Core ML specs written with coremltools' protobuf classes, and llamafile polyglots."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest
from coremltools.models.utils import save_spec
from coremltools.proto import Model_pb2
from direct_scan import is_unreadable, mutate, of_category, only_artifact, scan_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.inventory import Category, Kind, Severity
from aibom.scanners.coreml import MODEL_TYPES


def make_spec(custom: bool = False) -> Model_pb2.Model:
    spec = Model_pb2.Model()
    spec.specificationVersion = 4
    meta = spec.description.metadata
    meta.author, meta.license, meta.shortDescription, meta.versionString = "Alice", "MIT", "A tiny GLM.", "1.2"
    meta.userDefined["com.example.training"] = "synthetic"
    for feature, name in ((spec.description.input.add(), "x"), (spec.description.output.add(), "y")):
        feature.name = name
        feature.type.doubleType.SetInParent()
    if custom:
        spec.customModel.className = "MyModel"
    else:
        spec.glmRegressor.weights.add().value.extend([1.0])
        spec.glmRegressor.offset.append(0.0)
    return spec


def test_model_type_table_matches_coremltools() -> None:
    oneof = Model_pb2.Model.DESCRIPTOR.oneofs_by_name["Type"]
    assert {f.number: f.name for f in oneof.fields} == MODEL_TYPES


def test_mlmodel(tmp_path: Path) -> None:
    save_spec(make_spec(), str(tmp_path / "glm.mlmodel"))
    fmt, out = scan_file(tmp_path / "glm.mlmodel")
    assert fmt == "coreml"
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.name == "glm" and a.version == "1.2" and a.description == "A tiny GLM."
    assert a.model is not None and a.model.architecture == "glmRegressor"
    assert [lic.expression for lic in a.licenses] == ["MIT"]
    assert a.properties == {
        "aibom:coreml:specificationVersion": "4",
        "aibom:coreml:type": "glmRegressor",
        "aibom:coreml:author": "Alice",
        "aibom:coreml:license": "MIT",
        "aibom:coreml:shortDescription": "A tiny GLM.",
        "aibom:coreml:versionString": "1.2",
        "aibom:coreml:inputs": "1",
        "aibom:coreml:outputs": "1",
        "aibom:coreml:metadata:com.example.training": "synthetic",
    }
    assert out.findings == []
    renamed = tmp_path / "spec.bin"
    shutil.copy(tmp_path / "glm.mlmodel", renamed)
    assert scan_file(renamed)[0] == "coreml"


def test_custom_model_warns(tmp_path: Path) -> None:
    save_spec(make_spec(custom=True), str(tmp_path / "c.mlmodel"))
    _, out = scan_file(tmp_path / "c.mlmodel")
    (finding,) = of_category(out, Category.UNSAFE_CODE)
    assert finding.severity is Severity.WARNING


def test_mlpackage(tmp_path: Path) -> None:
    save_spec(make_spec(), str(tmp_path / "glm.mlpackage"))
    inner = tmp_path / "glm.mlpackage/Data/com.apple.CoreML/model.mlmodel"
    fmt, out = scan_file(inner, tmp_path)
    a = only_artifact(out)
    assert fmt == "coreml" and a.name == "glm"
    assert a.properties["aibom:coreml:package"] == "glm.mlpackage"
    fmt, out = scan_file(tmp_path / "glm.mlpackage/Manifest.json", tmp_path)
    assert fmt == "coreml-package-manifest"
    assert only_artifact(out).properties["aibom:coreml:root_model"] == "com.apple.CoreML/model.mlmodel"
    assert out.findings == []
    inner.unlink()
    _, out = scan_file(tmp_path / "glm.mlpackage/Manifest.json", tmp_path)
    (finding,) = of_category(out, Category.INTEGRITY)
    assert "missing" in finding.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mlmodel_mutations(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "mut.mlmodel"
    path.write_bytes(mutate(data, make_spec().SerializeToString()))
    fmt, out = scan_file(path)
    if fmt == "coreml":
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


# llamafile is not on PyPI: build the polyglot as llamafile lays it out: an APE header ("MZqFpD='",
# a DOS/PE stub that is also a shell script), program bytes, then a zip whose members include the
# GGUF weights stored uncompressed, with offsets relative to the start of the file.
APE_HEADER = b"MZqFpD='\n\x00\x00\x10\x00\xf8\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"


def make_llamafile(path: Path, tmp_path: Path, compress: int = zipfile.ZIP_STORED) -> Path:
    weights = tmp_path / "w.gguf"
    w = gguf.GGUFWriter(str(weights), "llama")
    w.add_name("Tiny Llamafile")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_tensor("t", np.zeros((2, 5), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    path.write_bytes(APE_HEADER + b"\x90" * 4000)  # stand-in for the program image
    with zipfile.ZipFile(path, "a", compress) as z:
        z.writestr("usr/share/ggml-vocab.txt", "a b c")
        z.write(weights, "tiny.gguf")
    return path


def test_llamafile(tmp_path: Path) -> None:
    path = make_llamafile(tmp_path / "tiny.llamafile", tmp_path)
    fmt, out = scan_file(path)
    assert fmt == "llamafile"
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.name == "Tiny Llamafile" and a.format == "llamafile"
    assert a.properties["aibom:executable"] == "true"
    assert a.properties["aibom:llamafile:gguf_member"] == "tiny.gguf"
    assert a.model is not None and a.model.parameter_count == 10
    assert a.model.properties["cdx:ai-ml:model:quantization"] == "MOSTLY_Q8_0"
    (finding,) = out.findings
    assert finding.category is Category.UNSAFE_CODE and finding.severity is Severity.WARNING


def test_llamafile_with_compressed_weights_is_unreadable_but_still_an_executable(tmp_path: Path) -> None:
    path = make_llamafile(tmp_path / "z.llamafile", tmp_path, zipfile.ZIP_DEFLATED)
    _, out = scan_file(path)
    assert is_unreadable(out)
    assert out.artifacts[0].properties["aibom:executable"] == "true"
    assert of_category(out, Category.UNSAFE_CODE)


@pytest.mark.parametrize("cut", [100, 4100, -30, -10])
def test_llamafile_truncated(tmp_path: Path, cut: int) -> None:
    data = make_llamafile(tmp_path / "t.llamafile", tmp_path).read_bytes()
    path = tmp_path / "cut.llamafile"
    path.write_bytes(data[:cut])
    fmt, out = scan_file(path)
    # Without its central directory it is no longer recognisable as a llamafile: a plain executable.
    assert fmt in ("llamafile", "pe-executable")
    if fmt == "llamafile":
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL
