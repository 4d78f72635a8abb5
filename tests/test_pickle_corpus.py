"""The proof: every malicious sample is an error, no benign checkpoint is, and model facts are exact."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from pickle_corpus import benign_makers, malicious_samples, scan_bytes, write_corpora

from conftest import component_at, findings_of, prop, scan_json


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("corpus")
    write_corpora(root)
    return root, scan_json(root)


def _by_location(bom: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in findings_of(bom):
        out.setdefault(f["location"], []).append(f)
    return out


def test_every_malicious_sample_is_an_error(corpus: tuple[Path, dict[str, Any]]) -> None:
    _, bom = corpus
    found = _by_location(bom)
    missed = [
        name
        for name in malicious_samples()
        if not any(f["severity"] == "error" for f in found.get(f"malicious/{name}", []))
    ]
    assert missed == []


def test_no_benign_sample_is_an_error(corpus: tuple[Path, dict[str, Any]]) -> None:
    _, bom = corpus
    false_errors = {
        loc: [f["message"] for f in fs if f["severity"] == "error"]
        for loc, fs in _by_location(bom).items()
        if loc.startswith("benign/")
    }
    assert {k: v for k, v in false_errors.items() if v} == {}
    assert len(benign_makers()) == 24


def test_malicious_findings_name_the_global_and_offset(corpus: tuple[Path, dict[str, Any]]) -> None:
    root, bom = corpus
    found = _by_location(bom)
    p0 = found["malicious/p0_os_system.pkl"]
    assert [(f["category"], f["severity"], f["offset"]) for f in p0] == [("unsafe-code", "error", 0)]
    assert "posix.system" not in p0[0]["message"] and "os.system called via GLOBAL" in p0[0]["message"]
    # in a stored zip member the offset is the file offset of the GLOBAL opcode
    data = (root / "malicious/torch_zip_payload.pt").read_bytes()
    (f,) = [f for f in found["malicious/torch_zip_payload.pt"] if f["category"] == "unsafe-code"]
    assert data[f["offset"] : f["offset"] + 10] == b"cos\nsystem"
    memo = found["malicious/p4_memo_indirection.pkl"]
    assert any("os.system called via STACK_GLOBAL" in f["message"] for f in memo)
    indirect = found["malicious/p4_pkgutil_resolve_name.pkl"]
    assert any("calls a computed object" in f["message"] for f in indirect)
    comp = component_at(bom, "malicious/p4_importlib_import_module.pkl")
    assert prop(comp, "aibom:pickle:globals") == "builtins.getattr,importlib.import_module"


def test_torch_checkpoints_are_models_with_exact_facts(corpus: tuple[Path, dict[str, Any]]) -> None:
    _, bom = corpus
    # Linear(3,4)=16, BatchNorm1d(4)=4 weight+4 bias+4 mean+4 var+1 num_batches_tracked (int64), Linear(4,2)=10
    for name, fmt in [
        ("torch_state_dict.pt", "pytorch"),
        ("torch_whole_module.pt", "pytorch"),
        ("torch_legacy_state_dict.pt", "pytorch-legacy"),
        ("torch_legacy_whole_module.pt", "pytorch-legacy"),
        ("torchscript.pt", "torchscript"),
    ]:
        comp = component_at(bom, f"benign/{name}")
        assert comp["type"] == "machine-learning-model", name
        card = comp["modelCard"]
        assert prop(card, "cdx:ai-ml:model:parameter:count") == "43", name
        assert prop(card, "cdx:ai-ml:model:tensor:count") == "9", name
        assert prop(card, "cdx:ai-ml:model:dtypes") == "F32=42,I64=1", name
        assert prop(comp, "aibom:torch:serialization") == fmt
    dtypes = component_at(bom, "benign/torch_dtypes.pt")
    assert prop(dtypes["modelCard"], "cdx:ai-ml:model:dtypes") == "BF16=16,F16=8,F8_E4M3=5,I8=3"
    assert prop(dtypes["modelCard"], "cdx:ai-ml:model:parameter:count") == "32"
    ckpt = component_at(bom, "benign/torch_training_ckpt.pt")
    # model 43 + AdamW exp_avg/exp_avg_sq for the 34 trainable floats (BatchNorm running stats are buffers)
    # + 6 `step` scalars (float32 tensors of shape ())
    assert prop(ckpt["modelCard"], "cdx:ai-ml:model:parameter:count") == str(43 + 2 * 34 + 6)
    assert prop(ckpt["modelCard"], "cdx:ai-ml:model:tensor:count") == str(9 + 3 * 6)
    ts = component_at(bom, "benign/torchscript.pt")
    ts_findings = [json.loads(p["value"]) for p in ts["properties"] if p["name"] == "aibom:finding"]
    assert [(f["rule"], f["severity"]) for f in ts_findings] == [("torchscript-code", "warning")]
    assert "code/__torch__/torch/nn/modules/container.py" in (prop(ts, "aibom:torchscript:code") or "")


def test_numpy_and_joblib_facts(corpus: tuple[Path, dict[str, Any]]) -> None:
    _, bom = corpus
    npy = component_at(bom, "benign/numpy_float.npy")
    assert (prop(npy, "aibom:numpy:dtype"), prop(npy, "aibom:numpy:shape")) == ("<f4", "3,4")
    obj = component_at(bom, "benign/numpy_object.npy")
    assert prop(obj, "aibom:numpy:object-array") == "true"
    assert prop(obj, "aibom:pickle:globals") == "numpy._core.multiarray._reconstruct,numpy.dtype,numpy.ndarray"
    npz = component_at(bom, "benign/numpy_arrays_compressed.npz")
    assert prop(npz, "aibom:format") == "npz"
    assert prop(npz, "aibom:numpy:w.npy:shape") == "2,3" and prop(npz, "aibom:numpy:b.npy:dtype") == "<i8"
    for name, layers in [("joblib_plain.joblib", "joblib"), ("joblib_zlib3.joblib", "zlib,joblib")]:
        comp = component_at(bom, f"benign/{name}")
        assert prop(comp, "aibom:container:layers") == layers
        assert "sklearn.ensemble._forest.RandomForestClassifier" in (prop(comp, "aibom:pickle:globals") or "")


def test_pickled_estimator_is_a_model_with_its_class(tmp_path: Path) -> None:
    import pickle

    import numpy as np
    from sklearn.ensemble import GradientBoostingRegressor

    X = np.arange(20.0).reshape(10, 2)
    est = GradientBoostingRegressor(n_estimators=2, max_depth=1).fit(X, X[:, 0])
    for protocol in range(6):
        _, out, _ = scan_bytes(pickle.dumps(est, protocol=protocol), "gbr.pkl")
        (artifact,) = out.artifacts
        assert artifact.model is not None and artifact.model.architecture == "GradientBoostingRegressor", protocol
        assert out.findings == []
    (tmp_path / "gbr.pkl").write_bytes(pickle.dumps(est, protocol=0))
    bom = scan_json(tmp_path)
    comp = component_at(bom, "gbr.pkl")
    assert comp["type"] == "machine-learning-model"
    assert comp["modelCard"]["modelParameters"] == {
        "architectureFamily": "sklearn",
        "modelArchitecture": "GradientBoostingRegressor",
    }
    assert [f for f in findings_of(bom) if f["severity"] == "error"] == []


def test_unlisted_import_that_is_not_called_is_a_warning(tmp_path: Path) -> None:
    # a reference to a function (say, a FunctionTransformer's func) is imported but never called on load
    (tmp_path / "ref.pkl").write_bytes(b"\x80\x04\x8c\x06mypkg1\x8c\x04func\x93\x85.")
    (f,) = findings_of(scan_json(tmp_path))
    assert (f["category"], f["severity"], f["offset"]) == ("unsafe-code", "warning", 16)  # the STACK_GLOBAL opcode


def test_zip_bomb_and_nesting_are_integrity_errors(tmp_path: Path) -> None:
    from aibom.containers import Blob, Budget
    from aibom.pickles.inspect import Inspector

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data.pkl", b"\x80\x02" + b"N" * 20_000_000)  # 20 MB of NONE opcodes, ~20 KB compressed
    ins = Inspector(Budget(1_000_000))
    ins.blob(Blob.of_bytes(bomb.read_bytes()), "", 0, "bomb.zip")
    assert [p.message for p in ins.report.integrity] == [
        "deflate stream decompresses to more than the 1000000-byte limit at a ratio of 1014:1 (compression bomb)"
        " in data.pkl"
    ]
    nested = b"\x80\x02N."
    for i in range(7):
        nested = _zip({f"l{i}.zip" if i else "data.pkl": nested})
    (tmp_path / "deep.zip").write_bytes(nested)
    found = [f for f in findings_of(scan_json(tmp_path)) if f["location"] == "deep.zip"]
    assert [(f["category"], f["severity"]) for f in found] == [("integrity", "error")]
    assert "nested deeper than 4 levels" in found[0]["message"]


def _zip(members: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_compressed_archive_beyond_the_limit_is_an_unreadable_warning() -> None:
    import gzip
    import io
    import os
    import tarfile

    from aibom.containers import Blob, Budget
    from aibom.pickles.inspect import Inspector

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = os.urandom(3_000_000)  # incompressible: big, not a bomb
        info = tarfile.TarInfo("big.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    ins = Inspector(Budget(1_000_000))
    ins.blob(Blob.of_bytes(gzip.compress(buf.getvalue(), 1)), "", 0, "data.tar.gz")
    assert [(p.severity.value, p.message) for p in ins.report.unreadable + ins.report.integrity] == [
        ("warning", "gzip stream decompresses to more than the 1000000-byte limit; not inspected")
    ]


class _CallsPrint:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("loaded",))


def test_old_protocol_pickle_is_analysed_once_when_identification_read_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocol 0/1 pickles are recognised by analysing their head. A file that fits in the head is not
    analysed a second time to scan it, and the scan reports what a fresh analysis reports."""
    import pickle

    from aibom.pickles import inspect, vm
    from aibom.pickles.emit import emit, inspect_probe
    from aibom.scanners import ScanOutput, identify
    from aibom.scanners import pickle as pickle_scanner
    from aibom.sniff import HEAD_BYTES, Probe

    calls: list[int] = []

    def counted(reader: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(reader.size)
        return vm.analyse(reader, *args, **kwargs)

    monkeypatch.setattr(inspect, "analyse", counted)
    monkeypatch.setattr(pickle_scanner, "analyse", counted)
    small = pickle.dumps({"run": 7, "loss": [0.5, 0.25], "call": _CallsPrint()}, protocol=0)
    big = pickle.dumps({f"k{i}": float(i) for i in range(2000)} | {"call": _CallsPrint()}, protocol=1)
    assert len(small) < HEAD_BYTES < len(big)
    for name, data, analyses in (("small.pkl", small, 1), ("big.pkl", big, 2)):
        (tmp_path / name).write_bytes(data)
        probe, _ = Probe.from_file(name, str(tmp_path / name), str(tmp_path))
        calls.clear()
        scanner, fmt = identify(probe)
        out = ScanOutput()
        scanner.scan(probe, fmt, out)
        assert (fmt, len(calls)) == ("pickle", analyses), name
        assert any(f.severity.value == "error" and "print called" in f.message for f in out.findings), name
        fresh = ScanOutput()
        emit(probe, fmt, inspect_probe(probe), fresh)  # nothing handed over from identification
        assert out == fresh, name
