"""Mutated and truncated BOMs: the reader returns an inventory or raises BomReadError, quickly, never else."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.bom.formats import render
from aibom.bom.read import BomReadError, read_bom
from aibom.pipeline import ScanOptions, scan_tree
from aibom.policy import engine

from policy_helpers import LLAMA31, weights

_CACHE: dict[str, bytes] = {}
_KEYS = [
    "components",
    "licenses",
    "license",
    "id",
    "name",
    "expression",
    "type",
    "bom-ref",
    "properties",
    "value",
    "modelCard",
    "modelParameters",
    "datasets",
    "ref",
    "pedigree",
    "ancestors",
    "evidence",
    "occurrences",
    "location",
    "hashes",
    "alg",
    "content",
    "scope",
]


def _valid(fmt: str) -> bytes:
    if fmt not in _CACHE:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "LICENSE").write_text(LLAMA31)
            weights(root / "m" / "model.safetensors")
            (root / "requirements.txt").write_text("numpy==2.0.0\n")
            (root / "x.bin").write_bytes(bytes(range(256)))
            inv = scan_tree(root, ScanOptions(use_cache=False))
            engine.openness(inv)
            _CACHE[fmt] = render(inv, fmt, "1.6").encode()
    return _CACHE[fmt]


def _check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bom"
        path.write_bytes(data)
        try:
            inv = read_bom(path)
        except BomReadError:
            return
        engine.check(inv)  # whatever was read, the rules run on it without error


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["cyclonedx-json", "cyclonedx-xml"]), data=st.data())
def test_mutated_boms(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(_valid(fmt))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    _check(bytes(raw))


@settings(max_examples=100, deadline=None)
@given(fmt=st.sampled_from(["cyclonedx-json", "cyclonedx-xml"]), cut=st.floats(0, 1))
def test_truncated_boms(fmt: str, cut: float) -> None:
    raw = _valid(fmt)
    _check(raw[: int(len(raw) * cut)])


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(_KEYS), kids, max_size=5),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(_VALUES)
def test_wrong_shapes_in_json(value: object) -> None:
    import json

    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": value, "components": [value, {"x": value}]}
    _check(json.dumps(doc).encode())


def test_large_bom_is_read_and_checked_quickly(tmp_path: Path) -> None:
    import json
    import time

    ids = ["MIT", "GPL-3.0-only", "Apache-2.0", "LGPL-2.1-only OR MIT"]
    comps = [
        {"type": "library", "bom-ref": f"pkg:pypi/p{i}@1.0", "name": f"p{i}", "licenses": [{"expression": ids[i % 4]}]}
        for i in range(10000)
    ]
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"type": "application", "name": "big", "licenses": [{"license": {"id": "MIT"}}]}},
        "components": comps,
    }
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(doc))
    start = time.perf_counter()
    result = engine.check(read_bom(path))
    assert time.perf_counter() - start < 10  # about 0.2 s; once it was a minute (an index rebuilt per license)
    assert len(result.findings) == 2500
