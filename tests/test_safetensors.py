"""safetensors header scanning on files written by the real safetensors library, and hostile headers."""

from __future__ import annotations

import hashlib
import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from aibom.inventory import Category, Kind
from aibom.scanners import ScanOutput, identify
from aibom.sniff import Probe

from conftest import component_at, findings_of, prop, scan_json


def _scan(path: Path) -> ScanOutput:
    probe, _ = Probe.from_file(path.name, str(path), str(path.parent))
    scanner, fmt = identify(probe)
    out = ScanOutput()
    scanner.scan(probe, fmt, out)
    return out


def _valid(path: Path) -> Path:
    save_file(
        {
            "emb": np.zeros((10, 4), dtype=np.float16),
            "w": np.ones((4, 4), dtype=np.float32),
            "step": np.array([3], dtype=np.int64),
            "mask": np.zeros((2, 3), dtype=np.bool_),
        },
        str(path),
        metadata={"format": "pt", "note": "hello"},
    )
    return path


def test_real_file_parameters_dtypes_metadata(tmp_path: Path) -> None:
    path = _valid(tmp_path / "model.safetensors")
    bom = scan_json(tmp_path)
    comp = component_at(bom, "model.safetensors")
    assert comp["type"] == "machine-learning-model"
    assert comp["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(path.read_bytes()).hexdigest()}]
    card = comp["modelCard"]
    assert prop(card, "cdx:ai-ml:model:parameter:count") == str(40 + 16 + 1 + 6)
    assert prop(card, "cdx:ai-ml:model:tensor:count") == "4"
    assert prop(card, "cdx:ai-ml:model:dtype") == "F16"
    assert prop(card, "cdx:ai-ml:model:dtypes") == "BOOL=6,F16=40,F32=16,I64=1"
    assert prop(comp, "aibom:safetensors:metadata:note") == "hello"
    assert findings_of(bom) == []


def test_identified_by_content_not_extension(tmp_path: Path) -> None:
    _valid(tmp_path / "weights.bin")
    (tmp_path / "fake.safetensors").write_bytes(b"PK\x03\x04 not really")
    (tmp_path / "random.bin").write_bytes(b"\x00\x01\x02\x03\x04\x05\x06\x07{\x00 random, not a header")
    bom = scan_json(tmp_path)
    assert component_at(bom, "weights.bin")["type"] == "machine-learning-model"
    fake = component_at(bom, "fake.safetensors")
    assert fake["type"] == "file" and prop(fake, "aibom:format") == "zip"
    assert prop(component_at(bom, "random.bin"), "aibom:format") == "unknown-binary"


def test_bf16_and_f8_sizes(tmp_path: Path) -> None:
    header = {
        "a": {"dtype": "BF16", "shape": [3, 2], "data_offsets": [0, 12]},
        "b": {"dtype": "F8_E4M3", "shape": [5], "data_offsets": [12, 17]},
        "c": {"dtype": "F4", "shape": [6], "data_offsets": [17, 20]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\x00" * 20)
    out = _scan(path)
    assert out.findings == []
    assert out.artifacts[0].model is not None
    assert out.artifacts[0].model.parameter_count == 17
    assert out.artifacts[0].model.dtypes == {"BF16": 6, "F8_E4M3": 5, "F4": 6}


def _header_file(path: Path, declared: int, body: bytes) -> Path:
    path.write_bytes(struct.pack("<Q", declared) + body)
    return path


HOSTILE = {
    "length-2^60": (1 << 60, b'{"a": 1}'),
    "header-longer-than-file": (5000, b'{"a": {"dtype": "F32"}}'),
    "truncated-json": (20, b'{"w": {"dtype": "F3'),
    "entry-not-an-object": (None, {"w": [1, 2]}),
    "bad-dtype": (None, {"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}),
    "negative-shape": (None, {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}),
    "size-mismatch": (None, {"w": {"dtype": "F32", "shape": [1000000], "data_offsets": [0, 4]}}),
    "overlap": (
        None,
        {
            "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        },
    ),
    "bad-metadata": (None, {"__metadata__": {"k": 1}}),
    "nested-bomb": (None, "[" * 100000 + "]" * 100000),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_headers_are_unreadable_quickly(tmp_path: Path, case: str) -> None:
    declared, body = HOSTILE[case]
    if isinstance(body, dict):
        body = json.dumps(body).encode() + b"\x00" * 4
        declared = len(body) - 4
    elif isinstance(body, str):
        body = ('{"a":' + body).encode()
        declared = len(body)
    path = _header_file(tmp_path / "m.safetensors", declared, body)
    start = time.monotonic()
    out = _scan(path)
    assert time.monotonic() - start < 2
    assert [f.category for f in out.findings] == [Category.UNREADABLE]
    assert out.artifacts[0].kind is Kind.FILE
    assert out.artifacts[0].properties["aibom:unreadable"] == "true"


def test_hostile_file_in_a_tree_gives_a_valid_bom_with_the_finding(tmp_path: Path) -> None:
    _header_file(tmp_path / "evil.safetensors", 1 << 60, b'{"' + b"\x00" * 100)
    _valid(tmp_path / "good.safetensors")
    bom = scan_json(tmp_path)
    findings = findings_of(bom)
    assert [(f["category"], f["location"]) for f in findings] == [("unreadable", "evil.safetensors")]
    assert "exceeds" in findings[0]["message"]
    assert component_at(bom, "good.safetensors")["type"] == "machine-learning-model"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_and_truncated_files_never_crash(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    original = _valid(folder / "m.safetensors").read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(0, 8))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    path = folder / "m.safetensors"
    path.write_bytes(bytes(mutated[:cut]))
    out = _scan(path)  # must not raise
    if out.artifacts and out.artifacts[0].kind is Kind.MODEL:
        assert out.findings == [] and out.artifacts[0].model is not None
    else:
        # an empty file is an integrity problem (an interrupted download), anything else unreadable
        assert all(f.category is (Category.INTEGRITY if cut == 0 else Category.UNREADABLE) for f in out.findings)
