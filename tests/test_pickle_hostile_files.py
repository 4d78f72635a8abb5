"""Hostile files for every pickle-bearing format: truncated, bit-flipped, with huge declared sizes.

Each must end as a result or a finding, quickly, without an exception; a truncated pickle-bearing file is
never clean.
"""

from __future__ import annotations

import gzip
import io
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pickle_corpus import call_p2, scan_bytes, tar_of, zip_of

from aibom.inventory import Severity


def _fixtures() -> dict[str, bytes]:
    import joblib
    import numpy as np
    import torch

    out: dict[str, bytes] = {}
    sd = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(3, dtype=torch.float16)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    out["model.pt"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save(sd, buf, _use_new_zipfile_serialization=False)
    out["legacy.pt"] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, np.array([1, "a", None], dtype=object), allow_pickle=True)
    out["object.npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.arange(10), o=np.array([None], dtype=object))
    out["arrays.npz"] = buf.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        for name, compress in (("plain.joblib", 0), ("zlib.joblib", 3), ("lz4.joblib", "lz4")):
            joblib.dump({"x": np.arange(5.0), "o": np.array([None, 1], dtype=object)}, f"{tmp}/j", compress=compress)
            out[name] = Path(f"{tmp}/j").read_bytes()
    payload = call_p2("os", "system", "id")
    out["payload.tar"] = tar_of({"pickle": payload, "sys_info": payload})
    out["payload.pkl.gz"] = gzip.compress(payload)
    out["nested.zip"] = zip_of({"inner.zip": zip_of({"data.pkl": payload})})
    return out


FIXTURES = _fixtures()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_scans_as_expected(name: str) -> None:
    fmt, out, _ = scan_bytes(FIXTURES[name], name)
    errors = [f for f in out.findings if f.severity is Severity.ERROR]
    assert bool(errors) == name.startswith(("payload", "nested")), (fmt, errors)


mutation = st.tuples(
    st.sampled_from(sorted(FIXTURES)),
    st.integers(min_value=0, max_value=1 << 20),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.sampled_from([0xFFFFFFFF, 0x7FFFFFFF, 2**63, 0])), max_size=2),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=mutation)
def test_mutated_files_end_as_results_or_findings(
    m: tuple[str, int, list[tuple[int, int]], list[tuple[int, int]]],
) -> None:
    name, cut, flips, sizes = m
    data = bytearray(FIXTURES[name])
    for pos, val in flips:
        data[pos % len(data)] = val
    for pos, val in sizes:  # plant a huge length field somewhere
        p = pos % max(1, len(data) - 8)
        data[p : p + 8] = struct.pack("<Q", val)
    if cut % 3 == 0:  # a third of the cases also truncate
        data = data[: cut % (len(data) + 1)]
    _, _out, seconds = scan_bytes(bytes(data), name)
    assert seconds < 5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([n for n in sorted(FIXTURES) if n != "arrays.npz"]), frac=st.floats(0.05, 0.999))
def test_truncated_pickle_files_are_never_clean(name: str, frac: float) -> None:
    data = FIXTURES[name]
    cut = data[: max(16, int(len(data) * frac))]
    fmt, out, _ = scan_bytes(cut, name)
    assert any(f.severity is Severity.ERROR for f in out.findings), (fmt, len(cut), len(data))


def test_zip_without_central_directory_is_read_from_local_headers() -> None:
    data = FIXTURES["model.pt"]
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))
    first_cd = data.find(b"PK\x01\x02")
    assert 0 < first_cd <= cd
    fmt, out, _ = scan_bytes(data[:first_cd], "cut.pt")
    assert fmt == "pytorch"
    (artifact,) = out.artifacts
    assert "torch._utils._rebuild_tensor_v2" in artifact.properties["aibom:pickle:globals"]
    assert [f.category.value for f in out.findings] == ["unreadable"]
    assert "no usable central directory" in out.findings[0].message


def test_prefixed_zip_is_read() -> None:
    payload = call_p2("os", "system", "id")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("a/data.pkl", payload)
    fmt, out, _ = scan_bytes(b"#!/bin/sh\nexit 0\n" + b"\0" * 100 + inner.getvalue(), "polyglot.bin")
    assert any(f.severity is Severity.ERROR and "os.system" in f.message for f in out.findings), fmt


def test_random_bytes_named_like_other_binaries_are_not_broken_pickles() -> None:
    """`.bin` and `.data` hold all kinds of binaries. Random bytes under those names were read as broken
    old-protocol pickles (an error) in about 1% of files; under a pickle-only name (`.pkl`) they still are,
    and a broken old-protocol stream that imports something is claimed under any pickle name."""
    import random

    rng = random.Random(11)
    blobs = [rng.randbytes(2048) for _ in range(1500)]
    for name in ("weights.bin", "shard.data"):
        flagged = [i for i, data in enumerate(blobs) if _errors(scan_bytes(data, name)[1])]
        assert flagged == [], name
    assert len([1 for data in blobs if _errors(scan_bytes(data, "model.pkl")[1])]) >= 3
    broken = b"cos\nsystem\n(S'id'\ntR\xff\xff"  # imports os.system, then an invalid opcode
    fmt, out, _ = scan_bytes(broken, "weights.bin")
    assert fmt == "pickle" and any("os.system" in f.message or "posix.system" in f.message for f in _errors(out))


def _errors(out: object) -> list:  # type: ignore[type-arg]
    return [f for f in out.findings if f.severity.value == "error"]  # type: ignore[attr-defined]


def _compressed_streams() -> list[tuple[str, bytes]]:
    import bz2
    import lzma
    import pickle
    import zlib

    import lz4.frame

    payload = pickle.dumps({"w": list(range(300)), "name": "x" * 50}, protocol=4)
    evil = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
    out = []
    for label, data in (("clean", payload), ("evil", evil), ("text", b"hello world\n" * 100)):
        for kind, squeeze in (
            ("gz", gzip.compress),
            ("zlib", zlib.compress),
            ("bz2", bz2.compress),
            ("xz", lzma.compress),
            ("lzma", lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)),
            ("lz4", lz4.frame.compress),
        ):
            packed = squeeze(data)
            out += [
                (f"{label}.{kind}.pkl", packed),
                (f"{label}-truncated.{kind}.pkl", packed[: len(packed) * 2 // 3]),
                (f"{label}-corrupt.{kind}.pkl", packed[:12] + bytes(b ^ 0x5A for b in packed[12:40]) + packed[40:]),
                (f"{label}-twice.{kind}.pkl", packed + packed),
            ]
    out.append(("bomb.gz.pkl", gzip.compress(b"\x80\x04" + b"\x00" * (3 << 20))))  # over SMALL_OUTPUT: usual path
    return out


@pytest.mark.parametrize(("name", "data"), _compressed_streams(), ids=lambda v: v if isinstance(v, str) else "")
def test_small_compressed_streams_read_once_report_as_peek_then_whole(name: str, data: bytes) -> None:
    """A small stream is decompressed whole at once instead of peeked at and then read again: the report
    (layers, findings, unreadable parts, with their messages) must be the same as by the two reads."""
    from aibom.containers import Blob
    from aibom.pickles import inspect

    def run() -> tuple[Any, int]:
        ins = inspect.Inspector()
        ins.blob(Blob.of_bytes(data), "", 0, name)
        return ins.report, ins.budget.remaining  # what was found, and what it was charged

    once = run()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(inspect, "SMALL_STREAM", -1)
        twice = run()
    assert once == twice


def test_v7_tar_with_a_prefixed_checksum_is_read_as_the_tar_python_opens() -> None:
    """A v7 tar (no ustar magic) whose checksum is written "0o..." is a tar to Python's tarfile, which reads
    the field with int(); the pickle inside must be found, as in any tar."""
    import tarfile

    evil = call_p2("posix", "system", "id")
    data = bytearray(tar_of({"storages": evil}))
    data[257:265] = b"\x00" * 8  # no ustar magic or version: a v7 header, recognised by its checksum
    data[148:156] = b" " * 8
    field = b"0o%o" % sum(data[:512])
    data[148:156] = field + b" " * (8 - len(field))
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as t:  # Python reads it, so a loader would
        member = t.extractfile("storages")
        assert member is not None and member.read() == evil
    fmt, out, _ = scan_bytes(bytes(data), "model.pt")
    messages = [f.message for f in out.findings if f.severity is Severity.ERROR]
    assert any("posix.system" in m for m in messages), (fmt, messages)
