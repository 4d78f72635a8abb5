"""Regressions for problems a fresh-eyes review found in the foundation."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from pathlib import Path

from aibom.inventory import Category
from aibom.pipeline import ScanOptions, scan_tree

from conftest import run_aibom, scan_json


def test_names_that_look_alike_stay_distinct(tmp_path: Path) -> None:
    with open(os.fsencode(str(tmp_path)) + b"/a\xffb.bin", "wb") as fh:
        fh.write(b"\x00raw byte name")
    (tmp_path / "a\\xffb.bin").write_bytes(b"\x00literal backslash name")
    bom = scan_json(tmp_path)
    locations = sorted(c["evidence"]["occurrences"][0]["location"] for c in bom["components"])
    assert locations == ["a\\\\xffb.bin", "a\\xffb.bin"]
    xml = run_aibom("scan", str(tmp_path), "-q", "--format", "cyclonedx-xml")
    assert xml.returncode == 0 and xml.stdout.count("<location>") == 2


def test_aibomignore_must_be_a_regular_file_in_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("*.bin\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "w.bin").write_bytes(b"\x00w")
    (root / ".aibomignore").symlink_to(outside)
    proc = run_aibom("scan", str(root))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "aibom: error: .aibomignore is a symlink; it is read only as a regular file in the root"
    )
    (root / ".aibomignore").unlink()
    (root / ".aibomignore").write_text("#" * (2 << 20))
    proc = run_aibom("scan", str(root))
    assert proc.returncode == 2 and "at most 1048576 bytes" in proc.stderr


def test_content_changed_with_mtime_restored_is_hashed_again(tmp_path: Path) -> None:
    root, cache = tmp_path / "t", tmp_path / "cache"
    root.mkdir()
    target = root / "w.bin"
    target.write_bytes(b"\x00original")
    scan_tree(root, ScanOptions(cache_dir=cache))
    st = target.stat()
    time.sleep(0.01)
    target.write_bytes(b"\x00tampered")  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # `touch -r`: mtime put back
    inv = scan_tree(root, ScanOptions(cache_dir=cache))
    assert inv.stats.cache_hits == 0
    assert inv.artifacts[0].sha256 == hashlib.sha256(b"\x00tampered").hexdigest()


def _safetensors(path: Path, header: str, data: bytes = b"") -> None:
    raw = header.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def test_safetensors_dimension_bomb_and_duplicate_keys(tmp_path: Path) -> None:
    dims = ",".join(["4294967295"] * 200000)
    _safetensors(
        tmp_path / "dims.safetensors", '{"w":{"dtype":"F32","shape":[' + dims + '],"data_offsets":[0,4]}}', b"\0" * 4
    )
    _safetensors(
        tmp_path / "dup.safetensors",
        '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        b"\0" * 4,
    )
    start = time.monotonic()
    inv = scan_tree(tmp_path)
    assert time.monotonic() - start < 5
    messages = {f.location: f.message for f in inv.findings}
    assert all(f.category is Category.UNREADABLE for f in inv.findings)
    assert "at most 32" in messages["dims.safetensors"] and len(messages["dims.safetensors"]) < 200
    assert "repeats a key" in messages["dup.safetensors"]


def test_requirements_with_byte_order_marks(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes("\ufeffnumpy==1.0\n".encode())
    (tmp_path / "requirements-gpu.txt").write_bytes("torch==2.0\n".encode("utf-16"))
    bom = scan_json(tmp_path)
    names = sorted(c["name"] for c in bom["components"] if c["type"] == "library")
    assert names == ["numpy", "torch"]
    assert not [p for c in bom["components"] for p in c.get("properties", []) if p["name"] == "aibom:finding"]
    assert json.dumps(bom).count("unknown-binary") == 0


def test_small_cli_edges(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\x00w")
    dash = run_aibom("scan", str(tmp_path), "-q", "-o", "-")
    assert dash.returncode == 0 and json.loads(dash.stdout)["bomFormat"] == "CycloneDX"
    assert not (Path.cwd() / "-").exists()
    both = run_aibom("scan", str(tmp_path), "-q", "-v")
    assert both.returncode == 2 and "contradict" in both.stderr
    negative = run_aibom("scan", str(tmp_path), env={"SOURCE_DATE_EPOCH": "-5"})
    assert negative.returncode == 2 and "SOURCE_DATE_EPOCH" in negative.stderr


def test_constraints_install_nothing_and_includes_do_not_repeat_findings(tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("numpy<2\n")
    (tmp_path / "base.txt").write_text("!!! bad line\n")
    (tmp_path / "requirements.txt").write_text("-r base.txt\nrequests==2.0\n")
    (tmp_path / "requirements-dev.txt").write_text("-r base.txt\n")
    inv = scan_tree(tmp_path)
    assert sorted(a.name for a in inv.artifacts) == ["requests"]
    assert [f.message for f in inv.findings if f.location == "base.txt"] == [
        "line 1: not a requirement pip understands: '!!! bad line'"
    ]


def test_empty_weights_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    inv = scan_tree(tmp_path)
    assert [(f.rule, f.category) for f in inv.findings] == [("empty-model-file", Category.INTEGRITY)]


def test_card_and_license_file_disagreeing_is_a_finding_in_tree_and_bom(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    root = tmp_path / "p"
    (root / "m").mkdir(parents=True)
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(root / "m" / "model.safetensors"))
    (root / "m" / "README.md").write_text("---\nlicense: mit\n---\n")
    (root / "m" / "LICENSE").write_text("SPDX-License-Identifier: Apache-2.0\n")
    bom = tmp_path / "bom.json"
    assert run_aibom("scan", str(root), "-q", "-o", str(bom)).returncode == 0
    for target in (root, bom):
        proc = run_aibom("check", str(target), "--format", "json", "--fail-on", "never")
        rules = [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "model-license-mismatch"]
        assert [f["severity"] for f in rules] == ["warning"], target
        assert "card declares MIT; license file says Apache-2.0 (m/LICENSE)" in rules[0]["message"]
