"""The load-safety verdicts: allowlist first, gadgets, calls, unresolvable imports; and bounded reporting."""

from __future__ import annotations

import json
import struct
from importlib import resources
from pathlib import Path

import pytest
from pickle_corpus import scan_bytes, zip_of

from aibom.inventory import Severity
from aibom.pickles.policy import judge, lists
from aibom.pickles.vm import GlobalRef

from conftest import component_at, findings_of, prop, scan_json


def ref(module: str | None, name: str | None, called: bool = False) -> GlobalRef:
    return GlobalRef(module, name, 0, "GLOBAL", called)


@pytest.mark.parametrize(
    ("module", "name", "called", "expected"),
    [
        ("torch._utils", "_rebuild_tensor_v2", True, None),
        ("collections", "OrderedDict", True, None),
        ("__builtin__", "set", True, None),  # Python 2 names are mapped first
        ("sklearn.ensemble._forest", "RandomForestClassifier", True, None),  # class family
        ("sklearn.utils._testing", "SomeHelper", True, Severity.ERROR),  # excluded part of the family
        ("sklearn.utils", "resample", True, Severity.ERROR),  # a function, not a class
        ("os", "system", False, Severity.ERROR),  # a gadget even when not called
        ("os.path", "join", False, Severity.ERROR),  # submodules of a gadget module
        ("__builtin__", "eval", False, Severity.ERROR),
        ("builtins", "getattr", False, Severity.ERROR),
        ("torch", "load", False, Severity.ERROR),
        ("mypkg", "helper", True, Severity.ERROR),  # any call of a non-allowlisted callable
        ("mypkg", "helper", False, Severity.WARNING),  # imported, never called
        ("collections", "OrderedDict.__class__", False, Severity.ERROR),  # dunder traversal
        ("os ", "system", False, Severity.ERROR),  # malformed names never pass
        (None, None, False, Severity.ERROR),  # unresolvable
        ("__torch__.m", "Net", True, Severity.ERROR),  # TorchScript classes outside a TorchScript archive
    ],
)
def test_verdicts(module: str | None, name: str | None, called: bool, expected: Severity | None) -> None:
    assert judge(ref(module, name, called)).severity is expected


def test_torchscript_classes_are_allowed_inside_torchscript() -> None:
    assert judge(ref("__torch__.m", "Net", True), torchscript=True).severity is None


def test_allowlist_data_is_consistent() -> None:
    data = json.loads(resources.files("aibom.pickles").joinpath("allowlist.json").read_text("utf-8"))
    assert data["about"] and data["gadget_modules"]["about"] and data["safe_class_prefixes"]["about"]
    lst = lists()
    # nothing is both allowlisted and a listed gadget global
    assert not {f"{m}.{n}" for m, n in lst.safe} & lst.gadget_globals
    # every allowlisted pair under a gadget module is a deliberate exception, and few
    under_gadget = sorted(
        f"{m}.{n}"
        for m, n in lst.safe
        if any(".".join(m.split(".")[:i]) in lst.gadget_modules for i in range(1, m.count(".") + 2))
    )
    assert under_gadget == [
        "_codecs.encode",
        "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.build_complexlist",
        "torch.jit._pickle.build_doublelist",
        "torch.jit._pickle.build_intlist",
        "torch.jit._pickle.build_tensor_from_id",
        "torch.jit._pickle.build_tensorlist",
        "torch.jit._pickle.restore_type_tag",
    ]


def test_many_globals_are_reported_boundedly(tmp_path: Path) -> None:
    body = b"".join(b"c" + f"pkg{i}\nf\n".encode() + b")R0" for i in range(300))
    (tmp_path / "many.pkl").write_bytes(b"\x80\x02" + body + b"N.")
    bom = scan_json(tmp_path)
    found = findings_of(bom)
    assert len(found) == 101
    assert [f["severity"] for f in found if f["message"] == "pickle: 200 more unsafe imports or calls"] == ["error"]
    listed = prop(component_at(bom, "many.pkl"), "aibom:pickle:globals") or ""
    assert listed.endswith(",...(+100 more)") and listed.count(",") == 200


@pytest.mark.parametrize(
    "header",
    [
        "(" * 5000 + ")" * 5000,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
        "__import__('os').system('id')",
        "[" * 100_000,
    ],
)
def test_hostile_npy_headers_are_unreadable(header: str) -> None:
    raw = header.encode()
    if len(raw) < 65_536:
        data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw
    else:
        data = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(raw)) + raw
    fmt, out, _ = scan_bytes(data, "x.npy")
    assert fmt == "npy"
    assert [(f.category.value, f.severity.value) for f in out.findings] == [("unreadable", "error")]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.py", b"import os\nimport sys\nprint(1)\n"),
        ("b.py", b"class A:\n    pass\n"),
        ("c.txt", b"cat\ndog\n(\n"),
        ("d.csv", b"Name,Age\nBob,3\n"),
        ("e.txt", b"i\n\n"),
        ("f.txt", b"N."),  # a valid pickle of None, but nothing marks it as one
    ],
)
def test_text_files_are_not_taken_for_old_pickles(name: str, text: bytes) -> None:
    fmt, out, _ = scan_bytes(text, name)
    # other families may describe the file (Python source, CSV data); it is never taken for a pickle
    assert "pickle" not in fmt and out.findings == []
    assert not any("aibom:pickle:globals" in a.properties for a in out.artifacts)
    fmt, out, _ = scan_bytes(zip_of({name: text}), "src.zip")
    assert fmt == "zip" and out.findings == []
    assert "aibom:pickle:globals" not in out.artifacts[0].properties


def test_python2_npy_header_with_long_literals() -> None:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }".ljust(69) + "\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(48)
    fmt, out, _ = scan_bytes(data, "old.npy")
    assert (fmt, out.findings) == ("npy", [])
    assert out.artifacts[0].properties["aibom:numpy:shape"] == "2,3"


def test_pickles_in_compressions_aibom_cannot_read_are_unreadable() -> None:
    zstd_frame = b"\x28\xb5\x2f\xfd" + bytes(12)  # joblib can write zstd frames; aibom cannot read them
    for data, name in ((zstd_frame, "model.joblib"), (zip_of({"model.pkl": zstd_frame}), "bundle.zip")):
        _, out, _ = scan_bytes(data, name)
        assert [(f.category.value, f.severity.value) for f in out.findings] == [("unreadable", "error")], name
        assert "zstd-compressed pickle" in out.findings[0].message
    fmt, out, _ = scan_bytes(zstd_frame, "corpus.jsonl.zst")  # a compressed dataset is not claimed
    assert fmt == "zstd" and out.findings == []


def test_tensors_pickled_with_plain_pickle_are_followed_into_their_nested_torch_file() -> None:
    import pickle

    import torch
    from pickle_corpus import call_p2, torch_like_zip

    _, out, _ = scan_bytes(pickle.dumps({"t": torch.zeros(3), "big": torch.zeros(40_000)}), "tensors.pkl")
    assert out.findings == []
    assert "torch.storage._load_from_bytes" in out.artifacts[0].properties["aibom:pickle:globals"]
    evil = torch_like_zip(call_p2("os", "system", "id"))
    data = b"\x80\x02ctorch.storage\n_load_from_bytes\nB" + len(evil).to_bytes(4, "little") + evil + b"\x85R."
    _, out, _ = scan_bytes(data, "tensors.pkl")
    (f,) = [f for f in out.findings if f.severity is Severity.ERROR]
    assert "os.system" in f.message and "_load_from_bytes@" in f.message


def test_nesting_through_load_from_bytes_is_bounded() -> None:
    from pickle_corpus import torch_like_zip

    data = b"\x80\x02N."
    for _ in range(40):
        data = torch_like_zip(
            b"\x80\x02ctorch.storage\n_load_from_bytes\nB" + len(data).to_bytes(4, "little") + data + b"\x85R."
        )
    _, out, seconds = scan_bytes(data, "deep.pt")
    assert seconds < 5
    assert [f.category.value for f in out.findings] == ["integrity"]
