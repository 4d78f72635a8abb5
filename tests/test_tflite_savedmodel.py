"""TFLite and TF SavedModel.

Neither TensorFlow nor a TFLite writer installs quickly here, so the files are built in the test
following the formats' schemas exactly: TFLite with the real `flatbuffers` Builder following
tensorflow/lite/schema/schema.fbs (and checked with the `tflite` package's generated reader);
saved_model.pb by encoding tensorflow/core/protobuf/saved_model.proto + meta_graph.proto by hand.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import pytest
import tflite
from direct_scan import is_unreadable, mutate, only_artifact, scan_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.inventory import Kind


def _int_vector(b: flatbuffers.Builder, values: list[int]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def _offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def build_tflite() -> bytes:
    """Model{version 3, 1 subgraph of 3 tensors (2 with constant buffers), 1 operator, metadata}."""
    b = flatbuffers.Builder(1024)
    # Buffers: 0 is the conventional empty buffer; 1 holds 4x3 float32, 2 holds 3 float16; 3 is empty.
    data1 = b.CreateByteVector(bytes(48))
    data2 = b.CreateByteVector(bytes(6))
    buffers = []
    for data in (None, data1, data2, None):
        b.StartObject(3)
        if data is not None:
            b.PrependUOffsetTRelativeSlot(0, data, 0)
        buffers.append(b.EndObject())
    tensors = []
    for name, shape, ttype, buf in (("w", [4, 3], 0, 1), ("b", [3], 1, 2), ("x", [1, 4], 0, 3)):
        n = b.CreateString(name)
        s = _int_vector(b, shape)
        b.StartObject(4)  # Tensor: shape, type, buffer, name
        b.PrependUOffsetTRelativeSlot(0, s, 0)
        b.PrependInt8Slot(1, ttype, 0)
        b.PrependUint32Slot(2, buf, 0)
        b.PrependUOffsetTRelativeSlot(3, n, 0)
        tensors.append(b.EndObject())
    b.StartObject(0)
    op = b.EndObject()
    tv, ov = _offset_vector(b, tensors), _offset_vector(b, [op])
    sg_name = b.CreateString("main")
    b.StartObject(5)  # SubGraph: tensors, inputs, outputs, operators, name
    b.PrependUOffsetTRelativeSlot(0, tv, 0)
    b.PrependUOffsetTRelativeSlot(3, ov, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraph = b.EndObject()
    b.StartObject(0)
    opcode = b.EndObject()
    md_name = b.CreateString("min_runtime_version")
    b.StartObject(2)  # Metadata: name, buffer
    b.PrependUOffsetTRelativeSlot(0, md_name, 0)
    b.PrependUint32Slot(1, 3, 0)
    metadata = b.EndObject()
    desc = b.CreateString("TOCO Converted.")
    opcodes, subgraphs = _offset_vector(b, [opcode]), _offset_vector(b, [subgraph])
    bufs, mds = _offset_vector(b, buffers), _offset_vector(b, [metadata])
    b.StartObject(8)  # Model
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, opcodes, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, bufs, 0)
    b.PrependUOffsetTRelativeSlot(6, mds, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture
def tiny_tflite(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.tflite"
    data = build_tflite()
    model = tflite.Model.GetRootAs(data, 0)  # the generated reader agrees with the schema
    assert model.Version() == 3 and model.SubgraphsLength() == 1 and model.Subgraphs(0).TensorsLength() == 3
    path.write_bytes(data)
    return path


def test_tflite(tiny_tflite: Path) -> None:
    fmt, out = scan_file(tiny_tflite)
    assert fmt == "tflite"
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.description == "TOCO Converted."
    assert a.model is not None
    assert a.model.parameter_count == 15
    assert a.model.tensor_count == 2
    assert a.model.dtypes == {"FLOAT32": 12, "FLOAT16": 3}
    assert a.properties == {
        "aibom:tflite:version": "3",
        "aibom:tflite:description": "TOCO Converted.",
        "aibom:tflite:subgraphs": "1",
        "aibom:tflite:operator_codes": "1",
        "aibom:tflite:operators": "1",
        "aibom:tflite:metadata": "min_runtime_version",
    }


def test_tflite_hostile(tiny_tflite: Path, tmp_path: Path) -> None:
    data = tiny_tflite.read_bytes()
    cases = [
        b"\xff\xff\xff\x7fTFL3" + bytes(8),  # root table far outside the file
        data[:12],
        b"\x0c\x00\x00\x00TFL3" + b"\x00\x00\x00\x80" + bytes(8),  # vtable offset negative and huge
    ]
    for cut in range(12, len(data), 5):
        cases.append(data[:cut])
    for blob in cases:
        path = tmp_path / "bad.tflite"
        path.write_bytes(blob)
        fmt, out = scan_file(path)
        assert fmt == "tflite"
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_tflite_mutations(tiny_tflite: Path, tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "mut.tflite"
    path.write_bytes(mutate(data, tiny_tflite.read_bytes()))
    fmt, out = scan_file(path)
    if fmt == "tflite":
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def build_saved_model(graph_bytes: int = 0) -> bytes:
    """SavedModel{schema 1, MetaGraphDef{MetaInfoDef{tags, tensorflow_version}, GraphDef, signature_def}}."""
    meta_info = _ld(1, b"") + _ld(4, b"serve") + _ld(4, b"gpu") + _ld(5, b"2.15.0") + _ld(6, b"v2.15.0-rc1")
    graph_def = _ld(1, _ld(1, b"x") + _ld(2, b"Placeholder")) + _ld(10, bytes(graph_bytes))  # node + padding
    signature = _ld(1, b"serving_default") + _ld(2, _ld(3, b"tensorflow/serving/predict"))
    meta_graph = _ld(1, meta_info) + _ld(2, graph_def) + _ld(5, signature)
    return b"\x08\x01" + _ld(2, meta_graph)


def test_saved_model(tmp_path: Path) -> None:
    folder = tmp_path / "my_model"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(build_saved_model(100_000))
    fmt, out = scan_file(folder / "saved_model.pb", tmp_path)
    assert fmt == "tf-savedmodel"
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.name == "my_model" and a.format == "tf-savedmodel"
    assert a.properties == {
        "aibom:tf-savedmodel:schema_version": "1",
        "aibom:tf-savedmodel:meta_graphs": "1",
        "aibom:tf-savedmodel:tags": '[["serve", "gpu"]]',
        "aibom:tf-savedmodel:signatures": '["serving_default"]',
        "aibom:tf-savedmodel:tensorflow_version": "2.15.0",
    }


def test_saved_model_hostile(tmp_path: Path) -> None:
    data = build_saved_model()
    for blob in [data[:cut] for cut in range(1, len(data))] + [b"\x08\x01\x12\xff\xff\xff\xff\x0f"]:
        (tmp_path / "saved_model.pb").write_bytes(blob)
        fmt, out = scan_file(tmp_path / "saved_model.pb")
        if fmt == "tf-savedmodel":
            assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL
