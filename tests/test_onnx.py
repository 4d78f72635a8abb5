"""ONNX: models written by the `onnx` package, read back by aibom's own wire-format parser."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from direct_scan import is_unreadable, mutate, of_category, only_artifact, scan_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from aibom.inventory import Category, Kind, Severity
from aibom.sniff import Probe

from conftest import component_at, findings_of, prop, scan_json


def make_model(initializers: dict[str, np.ndarray] | None = None) -> onnx.ModelProto:
    inits = initializers or {
        "W": np.ones((3, 4), dtype=np.float32),
        "B": np.ones((4,), dtype=np.float16),
    }
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"])]
    graph = helper.make_graph(
        nodes,
        "tiny-graph",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(a, n) for n, a in inits.items()],
    )
    model = helper.make_model(
        graph,
        producer_name="aibom-test",
        producer_version="1.2",
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
        model_version=7,
        doc_string="A tiny test model.",
    )
    model.domain = "org.example"
    helper.set_model_props(model, {"author": "Example", "license": "MIT"})
    return model


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.onnx"
    onnx.save_model(make_model(), str(path))
    return path


def test_metadata_read_exactly(tiny: Path) -> None:
    fmt, out = scan_file(tiny)
    assert fmt == "onnx"
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.name == "tiny"
    assert a.version == "7" and a.description == "A tiny test model."
    assert a.model is not None
    assert a.model.parameter_count == 16
    assert a.model.tensor_count == 2
    assert a.model.dtypes == {"FLOAT": 12, "FLOAT16": 4}
    assert a.properties == {
        "aibom:onnx:ir_version": str(onnx.IR_VERSION),
        "aibom:onnx:producer_name": "aibom-test",
        "aibom:onnx:producer_version": "1.2",
        "aibom:onnx:domain": "org.example",
        "aibom:onnx:graph_name": "tiny-graph",
        "aibom:onnx:model_version": "7",
        "aibom:onnx:opset_import": "ai.onnx=17,ai.onnx.ml=3",
        "aibom:onnx:metadata:author": "Example",
        "aibom:onnx:metadata:license": "MIT",
    }
    assert out.findings == []


def test_identified_by_content_not_name(tiny: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "weights.bin"
    renamed.write_bytes(tiny.read_bytes())
    fmt, out = scan_file(renamed)
    assert fmt == "onnx"
    assert only_artifact(out).model.parameter_count == 16  # type: ignore[union-attr]


def test_external_data_present_is_clean(tmp_path: Path) -> None:
    model = make_model({"W": np.arange(4096, dtype=np.float32).reshape(64, 64)})
    onnx.save_model(model, str(tmp_path / "m.onnx"), save_as_external_data=True, location="m.data", size_threshold=0)
    bom = scan_json(tmp_path)
    comp = component_at(bom, "m.onnx")
    assert prop(comp, "aibom:onnx:external_data") == '["m.data"]'
    assert prop(comp["modelCard"], "cdx:ai-ml:model:parameter:count") == "4096"
    assert findings_of(bom) == []


def test_external_data_missing_is_integrity(tmp_path: Path) -> None:
    model = make_model({"W": np.arange(4096, dtype=np.float32).reshape(64, 64)})
    onnx.save_model(model, str(tmp_path / "m.onnx"), save_as_external_data=True, location="m.data", size_threshold=0)
    (tmp_path / "m.data").unlink()
    _, out = scan_file(tmp_path / "m.onnx")
    (finding,) = out.findings
    assert finding.category is Category.INTEGRITY and finding.severity is Severity.ERROR
    assert "'m.data'" in finding.message and "missing" in finding.message


def test_external_data_too_short_is_integrity(tmp_path: Path) -> None:
    model = make_model({"W": np.arange(4096, dtype=np.float32).reshape(64, 64)})
    onnx.save_model(model, str(tmp_path / "m.onnx"), save_as_external_data=True, location="m.data", size_threshold=0)
    (tmp_path / "m.data").write_bytes(b"\0" * 100)
    _, out = scan_file(tmp_path / "m.onnx")
    (finding,) = of_category(out, Category.INTEGRITY)
    assert "16384" in finding.message


@pytest.mark.parametrize("location", ["../../etc/passwd", "/etc/passwd", "sub/../../x.bin", "C:\\Windows\\x.bin"])
def test_external_data_escaping_the_folder_is_unsafe(tmp_path: Path, location: str) -> None:
    model = make_model()
    tensor = model.graph.initializer[0]
    set_external_data(tensor, location=location, offset=0, length=48)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    onnx.save_model(model, str(tmp_path / "evil.onnx"))
    _, out = scan_file(tmp_path / "evil.onnx")
    (finding,) = of_category(out, Category.UNSAFE_CODE)
    assert finding.severity is Severity.ERROR
    assert repr(location) in finding.message
    assert of_category(out, Category.INTEGRITY) == []


def test_external_data_in_a_subgraph_constant_is_checked(tmp_path: Path) -> None:
    const = numpy_helper.from_array(np.ones((2,), dtype=np.float32), "c")
    set_external_data(const, location="../outside.bin")
    const.data_location = TensorProto.EXTERNAL
    const.ClearField("raw_data")
    inner = helper.make_graph([helper.make_node("Constant", [], ["o"], value=const)], "inner", [], [])
    outer_node = helper.make_node("If", ["cond"], ["o"], then_branch=inner, else_branch=inner)
    model = make_model()
    model.graph.node.append(outer_node)
    onnx.save_model(model, str(tmp_path / "sub.onnx"))
    _, out = scan_file(tmp_path / "sub.onnx")
    assert len(of_category(out, Category.UNSAFE_CODE)) == 1  # reported once per location


class CountingProbe(Probe):
    """A real Probe that also counts the bytes read beyond the head (instrumentation only)."""

    bytes_read = 0

    def read(self, offset: int, length: int) -> bytes:
        data = super().read(offset, length)
        if offset + length > len(self.head):
            CountingProbe.bytes_read += len(data)
        return data


def test_large_initializers_are_skipped_not_read(tmp_path: Path) -> None:
    from aibom.scanners.onnx import parse

    inits = {f"w{i}": np.zeros((1024, 1024), dtype=np.float32) for i in range(16)}  # 64 MiB of raw_data
    path = tmp_path / "big.onnx"
    onnx.save_model(make_model(inits), str(path))
    probe, _ = CountingProbe.from_file("big.onnx", str(path))
    CountingProbe.bytes_read = 0
    start = time.monotonic()
    model = parse(probe)
    assert model.parameters == 16 * 1024 * 1024
    assert CountingProbe.bytes_read < 256 * 1024, CountingProbe.bytes_read
    assert time.monotonic() - start < 1


def _ld(field: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand (tag, varint length, payload)."""
    out = bytearray([field << 3 | 2])
    n = len(payload)
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out) + payload


def test_nesting_bomb(tmp_path: Path) -> None:
    graph = b""
    for _ in range(200):  # graph -> node -> attribute.g -> graph ...
        graph = _ld(1, _ld(5, _ld(6, graph)))
    path = tmp_path / "nest.onnx"
    path.write_bytes(b"\x08\x08" + _ld(7, graph))
    _, out = scan_file(path)
    assert is_unreadable(out)
    assert "nested deeper" in out.findings[0].message


@pytest.mark.parametrize(
    "blob",
    [
        b"\x08\x08" + b"\x3a\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # graph length 2^63
        b"\x08\x08\x12" + b"\xff" * 11,  # varint longer than 10 bytes
        b"\x08\x08\x3a\x05\x2a\x10" + b"\0" * 3,  # initializer longer than its graph
        b"\x08\x08\x3b\x00",  # group wire type
    ],
)
def test_hostile_wire(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(blob)
    fmt, out = scan_file(path)
    assert fmt == "onnx"
    assert is_unreadable(out)


def test_truncated_everywhere(tiny: Path, tmp_path: Path) -> None:
    data = tiny.read_bytes()
    for cut in range(2, len(data)):
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[:cut])
        fmt, out = scan_file(path)
        if fmt == "onnx":
            assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutations_never_escape(tiny: Path, tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "mut.onnx"
    path.write_bytes(mutate(data, tiny.read_bytes()))
    fmt, out = scan_file(path)
    if fmt == "onnx":
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


def test_external_data_without_location_is_integrity(tmp_path: Path) -> None:
    model = make_model()
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    onnx.save_model(model, str(tmp_path / "noloc.onnx"))
    _, out = scan_file(tmp_path / "noloc.onnx")
    (finding,) = out.findings
    assert finding.category is Category.INTEGRITY and "no location" in finding.message
