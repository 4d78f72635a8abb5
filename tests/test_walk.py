"""The walk: stable, complete, safe. Real files, links, FIFOs and sockets in tmp_path."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

from aibom.pipeline import ScanOptions, scan_tree
from aibom.scanners import registered
from aibom.walk import walk

from conftest import run_aibom


def _files(root: Path, *excludes: str) -> list[str]:
    return [f.relpath for f in walk(root, excludes).files]


def _skips(root: Path) -> dict[str, str]:
    return {s.path: s.reason for s in walk(root).skipped}


def test_every_file_once_in_stable_order(tmp_path: Path) -> None:
    for rel in ["b/2.txt", "a/1.txt", "a/z/3.txt", "c.txt", "B.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    assert _files(tmp_path) == ["B.txt", "a/1.txt", "a/z/3.txt", "b/2.txt", "c.txt"]


def test_skips_vcs_caches_and_virtualenvs_and_reports_them(tmp_path: Path) -> None:
    for rel in [".git/config", "__pycache__/x.pyc", "node_modules/p/i.js", "venv/lib/site.py", "keep.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "venv/pyvenv.cfg").write_text("home = /usr\n")
    result = walk(tmp_path)
    assert [f.relpath for f in result.files] == ["keep.txt"]
    assert {s.path: s.reason for s in result.skipped} == {
        ".git": "vcs-metadata",
        "__pycache__": "cache",
        "node_modules": "cache",
        "venv": "virtualenv",
    }
    assert result.environments == ["venv"]


def test_exclude_globs_and_aibomignore(tmp_path: Path) -> None:
    for rel in ["data/big.bin", "data/keep.csv", "exp/run1/w.bin", "notes.tmp", "src/a.py"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".aibomignore").write_text("# comment\nexp/\n*.tmp\n!keep.tmp\n")
    files = _files(tmp_path, "data/*.bin")
    assert files == [".aibomignore", "data/keep.csv", "src/a.py"]
    reasons = {s.path: s.reason for s in walk(tmp_path, ["data/*.bin"]).skipped}
    assert reasons == {"data/big.bin": "excluded", "exp": "excluded", "notes.tmp": "excluded"}


def test_symlink_out_of_root_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"\x00secret")
    root = tmp_path / "root"
    root.mkdir()
    (root / "to_file").symlink_to(outside / "secret.bin")
    (root / "to_dir").symlink_to(outside)
    (root / "relative").symlink_to("../outside/secret.bin")
    result = walk(root)
    assert result.files == []
    assert {s.path: s.reason for s in result.skipped} == {
        "relative": "symlink-outside-root",
        "to_dir": "symlink-outside-root",
        "to_file": "symlink-outside-root",
    }


def test_symlink_loops_and_broken_links_are_survived(tmp_path: Path) -> None:
    (tmp_path / "d/e").mkdir(parents=True)
    (tmp_path / "d/e/f.txt").write_text("f")
    (tmp_path / "d/e/up").symlink_to("../..")  # loop to an ancestor
    (tmp_path / "self").symlink_to("self")  # ELOOP
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "dangling").symlink_to("nowhere")
    result = walk(tmp_path)
    assert [f.relpath for f in result.files] == ["d/e/f.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons == {
        "a": "symlink-loop",
        "b": "symlink-loop",
        "self": "symlink-loop",
        "dangling": "broken-symlink",
        "d/e/up": "symlink-loop",
    }


def test_symlinks_inside_root_are_followed_once(tmp_path: Path) -> None:
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs/abc").write_bytes(b"\x00weights")
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap/model.bin").symlink_to("../blobs/abc")
    (tmp_path / "alias").symlink_to("blobs")
    result = walk(tmp_path)
    files = {f.relpath: f for f in result.files}
    # The symlinked folder is walked once (first in order); its real path is then already walked.
    assert sorted(files) == ["alias/abc", "snap/model.bin"]
    assert files["snap/model.bin"].via_symlink
    assert files["snap/model.bin"].path == str((tmp_path / "blobs/abc").resolve())
    assert {s.path: s.reason for s in result.skipped} == {"blobs": "already-walked"}


def test_fifo_socket_and_device_are_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    short = Path(tempfile.mkdtemp(prefix="s"))  # AF_UNIX paths must be short
    try:
        sock.bind(str(short / "sock"))
        (tmp_path / "sock").symlink_to(short / "sock")
        (tmp_path / "ok.txt").write_text("ok")
        # A scan over a FIFO would block forever if it opened it: run the real CLI with a timeout.
        proc = run_aibom("scan", str(tmp_path), "-v", timeout=60)
    finally:
        sock.close()
        shutil.rmtree(short)
    assert proc.returncode == 0, proc.stderr
    assert "skipped pipe: special-file (fifo)" in proc.stderr
    assert "skipped sock: symlink-outside-root" in proc.stderr
    inside = tmp_path / "dev"
    inside.mkdir()
    if hasattr(os, "mknod") and os.geteuid() == 0:
        os.mknod(inside / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        assert {s.path: (s.reason, s.detail) for s in walk(inside).skipped} == {
            "null": ("special-file", "character-device")
        }


def test_non_utf8_names_are_escaped_not_lost(tmp_path: Path) -> None:
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.bin"
    with open(raw, "wb") as fh:
        fh.write(b"\x00\x01\x02 opaque")
    assert _files(tmp_path) == ["caf\\xe9.bin"]
    proc = run_aibom("scan", str(tmp_path), "-q")
    assert proc.returncode == 0, proc.stderr
    assert '"location": "caf\\\\xe9.bin"' in proc.stdout


def test_deep_nesting(tmp_path: Path) -> None:
    deep = tmp_path
    for i in range(200):
        deep = deep / f"d{i % 10}"
    deep.mkdir(parents=True)
    (deep / "leaf.txt").write_text("leaf")
    files = _files(tmp_path)
    assert len(files) == 1 and files[0].count("/") == 200


def _scan_as_nobody(base: Path) -> dict[str, list[list[str]]]:
    """Scan in a forked child that dropped root privileges (no exec: the interpreter is loaded)."""
    registered()  # import every scanner now: the child may not be able to read the stdlib under /root
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 1
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            inv = scan_tree(base, ScanOptions(use_cache=False))
            payload = {
                "skipped": [[s.path, s.reason] for s in inv.skipped],
                "findings": [[f.location or "", str(f.category), f.message] for f in inv.findings],
                "artifacts": [[a.location or "", a.sha256 or ""] for a in inv.artifacts],
            }
            os.write(write_fd, json.dumps(payload).encode())
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0, "scan in the unprivileged child failed"
    return json.loads(data)


@pytest.mark.skipif(sys.platform != "linux", reason="uses fork and Linux permissions")
def test_permission_denied_as_unprivileged_user() -> None:
    """Unreadable files and folders are reported, not fatal (scanning as `nobody` when we are root)."""
    base = Path(tempfile.mkdtemp(prefix="aibom-perm-"))
    try:
        base.chmod(0o755)
        (base / "locked").mkdir(mode=0o700)
        (base / "locked/inner.bin").write_bytes(b"\x00" * 10)
        (base / "secret.bin").write_bytes(b"\x00\x01")
        (base / "secret.bin").chmod(0o000)
        (base / "fine.bin").write_bytes(b"\x00\x02")
        (base / "fine.bin").chmod(0o644)
        result = _scan_as_nobody(base)
    finally:
        (base / "secret.bin").chmod(0o644)
        shutil.rmtree(base)
    assert ["locked", "unreadable-directory"] in result["skipped"]
    assert [loc for loc, cat, _ in result["findings"] if cat == "unreadable"] == ["secret.bin"]
    assert result["artifacts"] == [["fine.bin", hashlib.sha256(b"\x00\x02").hexdigest()]]


def test_root_folder_name_that_is_not_utf8_is_escaped_in_the_bom(tmp_path: Path) -> None:
    """The root component is named after the scanned folder; a name that is not UTF-8 is written in its
    display form (`\\xNN`), like every path in the BOM, instead of failing the JSON output."""
    root = Path(os.fsdecode(bytes(tmp_path) + b"/proj-\xff"))
    root.mkdir()
    (root / "model.bin").write_bytes(b"\x00" * 64)
    result = run_aibom("scan", str(root), "-o", str(tmp_path / "bom.json"), env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert result.returncode == 0, result.stderr
    bom = json.loads((tmp_path / "bom.json").read_text(encoding="utf-8"))
    assert bom["metadata"]["component"]["name"] == "proj-\\xff"
