"""Files that change or vanish while a scan runs are reported, never silently hashed wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aibom.hashcache import HashCache
from aibom.hashing import FileChanged, Hasher, sha256_file
from aibom.inventory import Category
from aibom.pipeline import FileProcessor
from aibom.progress import Progress
from aibom.walk import walk


def test_file_growing_while_hashed_raises(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x00" * (3 << 20))

    def grow(_n: int) -> None:
        with open(path, "ab") as fh:
            fh.write(b"more")

    with pytest.raises(FileChanged):
        sha256_file(str(path), grow)


def _processor(tmp_path: Path, progress_hook=None) -> FileProcessor:  # type: ignore[no-untyped-def]
    return FileProcessor(str(tmp_path), Hasher(HashCache(None), progress_hook), Progress(enabled=False))


def test_file_that_keeps_changing_gets_an_integrity_finding_and_no_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x00\x01" * (2 << 20))
    [entry] = walk(tmp_path).files

    def grow(_n: int) -> None:
        with open(path, "ab") as fh:
            fh.write(b"x")

    result = _processor(tmp_path, grow)(entry)
    [artifact] = result.out.artifacts
    assert artifact.sha256 is None
    assert [(f.rule, f.category) for f in result.out.findings] == [("file-changed-during-scan", Category.INTEGRITY)]


def test_file_changed_once_is_rehashed(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"\x00\x01" * (2 << 20))
    [entry] = walk(tmp_path).files
    calls = {"n": 0}

    def grow_once(_n: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            with open(path, "ab") as fh:
                fh.write(b"x")

    result = _processor(tmp_path, grow_once)(entry)
    [artifact] = result.out.artifacts
    import hashlib

    assert artifact.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.out.findings == []


def test_file_that_vanishes_after_the_walk(tmp_path: Path) -> None:
    (tmp_path / "gone.bin").write_bytes(b"\x00\x01")
    [entry] = walk(tmp_path).files
    os.unlink(tmp_path / "gone.bin")
    result = _processor(tmp_path)(entry)
    assert result.out.artifacts == []
    [finding] = result.out.findings
    assert finding.category is Category.UNREADABLE and "No such file" in finding.message


def test_file_replaced_by_a_fifo_after_the_walk_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    [entry] = walk(tmp_path).files
    os.unlink(tmp_path / "x.bin")
    os.mkfifo(tmp_path / "x.bin")  # opening a FIFO for reading would block forever
    result = _processor(tmp_path)(entry)
    [finding] = result.out.findings
    assert "not a regular file" in finding.message
