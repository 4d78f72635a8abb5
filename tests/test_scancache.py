"""The scan-result cache: warm rescans answer unchanged files from it, and every change is picked up."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import aibom.scancache
from aibom.pipeline import ScanOptions, scan_tree
from aibom.scancache import FILENAME

from conftest import run_aibom

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))  # pickled, never loaded


def _project(root: Path) -> None:
    """Models, a pickle with findings, a DVC dataset, dependencies with an include, licenses, a script."""
    (root / "models").mkdir(parents=True)
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(root / "models" / "model.safetensors"))
    (root / "models" / "evil.pkl").write_bytes(pickle.dumps(_Payload(), protocol=4))
    np.save(root / "models" / "stats.npy", np.arange(5, dtype=np.int64))
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://acme-ml/one\n", encoding="utf-8"
    )
    (root / "data").mkdir()
    (root / "data" / "images.dvc").write_text(
        "outs:\n- md5: 5f0d6c1b2a5e4e0f0b0a3c9c2d1e7f60.dir\n  size: 52428800\n  nfiles: 1200\n"
        "  hash: md5\n  path: images\n",
        encoding="utf-8",
    )
    (root / "requirements.txt").write_text("numpy==1.26.4\n-r extra.txt\n", encoding="utf-8")
    (root / "extra.txt").write_text("requests==2.31.0\n", encoding="utf-8")
    (root / "LICENSE").write_text("MIT License\n\nCopyright (c) 2024 Acme\n", encoding="utf-8")
    (root / "train.py").write_text(
        'from transformers import AutoModel\nmodel = AutoModel.from_pretrained("google-bert/bert-base-uncased")\n',
        encoding="utf-8",
    )
    (root / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)


def _scan(root: Path, *args: str) -> tuple[str, str]:
    proc = run_aibom("scan", str(root), "-o", "-", *args, env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def _counts(root: Path, cache: Path) -> tuple[int, int]:
    """(files answered by the scan cache, files hashed) of an in-process scan."""
    inv = scan_tree(root, ScanOptions(cache_dir=cache))
    return inv.stats.scans_cached, inv.stats.hashed_files


@pytest.mark.parametrize("fmt", [(), ("--format", "cyclonedx-xml", "--spec-version", "1.7")])
def test_warm_cold_and_no_cache_are_byte_identical(tmp_path: Path, fmt: tuple[str, ...]) -> None:
    _project(tmp_path / "p")
    cold, cold_err = _scan(tmp_path / "p", *fmt)
    warm, warm_err = _scan(tmp_path / "p", *fmt)
    nocache, _ = _scan(tmp_path / "p", "--no-cache", *fmt)
    assert warm == cold == nocache
    assert "os.system" in cold or "system" in cold  # the pickle's finding is in the BOM
    assert "requests" in cold and "bert-base-uncased" in cold and "s3://acme-ml/one" in cold
    assert "0 files hashed" in warm_err and "0 from cache" in cold_err


def test_unchanged_files_come_from_the_cache_and_changes_are_rescanned(tmp_path: Path, isolated_cache: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    files = sum(1 for p in root.rglob("*") if p.is_file())
    assert _counts(root, isolated_cache) == (0, 5)  # cold: everything scanned, five file contents hashed
    assert _counts(root, isolated_cache) == (files, 0)
    (root / "blob.bin").write_bytes(b"\x00\x01\x03" * 100)  # same size, new content
    assert _counts(root, isolated_cache) == (files - 1, 1)
    before = os.stat(root / "blob.bin")
    (root / "blob.bin").write_bytes(b"\x00\x01\x04" * 100)
    os.utime(root / "blob.bin", ns=(before.st_atime_ns, before.st_mtime_ns))  # touch -r: only ctime moved
    assert _counts(root, isolated_cache) == (files - 1, 1)
    bom, _ = _scan(root)
    assert bom == _scan(root, "--no-cache")[0]


def test_edit_to_an_included_requirements_file_is_picked_up(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    first, _ = _scan(root)
    assert "flask" not in first
    (root / "extra.txt").write_text("requests==2.31.0\nflask==3.0.0\n", encoding="utf-8")
    second, _ = _scan(root)
    assert "pkg:pypi/flask@3.0.0" in second
    assert second == _scan(root, "--no-cache")[0]


def test_edit_to_dvc_config_is_picked_up(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    assert "s3://acme-ml/one" in _scan(root)[0]
    (root / ".dvc" / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://acme-ml/two\n", encoding="utf-8"
    )
    second, _ = _scan(root)
    assert "s3://acme-ml/two" in second and "s3://acme-ml/one" not in second
    assert second == _scan(root, "--no-cache")[0]


def test_a_path_named_by_a_script_appearing_is_picked_up(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    assert "hf:google-bert/bert-base-uncased" in _scan(root)[0]
    (root / "google-bert" / "bert-base-uncased").mkdir(parents=True)  # now a local path, not a hub id
    second, _ = _scan(root)
    assert "hf:google-bert/bert-base-uncased" not in second
    assert second == _scan(root, "--no-cache")[0]


def test_version_or_code_change_invalidates_every_entry(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    _project(root)
    files = sum(1 for p in root.rglob("*") if p.is_file())
    _counts(root, isolated_cache)
    assert _counts(root, isolated_cache)[0] == files
    monkeypatch.setattr(aibom.scancache, "context", lambda: "another aibom")
    assert _counts(root, isolated_cache)[0] == 0
    assert _counts(root, isolated_cache)[0] == files
    db = sqlite3.connect(isolated_cache / FILENAME)
    assert {row[0] for row in db.execute("SELECT DISTINCT context FROM scans")} == {"another aibom"}
    db.close()


def test_excluded_then_included_again(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    full, _ = _scan(root)
    without, _ = _scan(root, "--exclude", "models/evil.pkl")
    assert '"location": "models/evil.pkl"' not in without and "excluded: models/evil.pkl" in without
    assert _scan(root)[0] == full


def test_corrupt_database_is_rebuilt_with_a_warning(tmp_path: Path, isolated_cache: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    cold, _ = _scan(root)
    (isolated_cache / FILENAME).write_bytes(b"not a database at all" * 200)
    for suffix in ("-wal", "-shm"):
        (isolated_cache / f"{FILENAME}{suffix}").unlink(missing_ok=True)
    proc = run_aibom("scan", str(root), "-o", "-", env=EPOCH)
    assert proc.returncode == 0
    assert "aibom: warning: scan cache was corrupt and has been rebuilt" in proc.stderr
    assert proc.stdout == cold
    assert _scan(root)[0] == cold


_DAMAGED = [
    "{not json",
    '{"v": 1, "fmt": "binary", "hashed": 1, "deps": {}, "out": {"artifacts": [{"kind": "nonsense"}]}}',
    '{"v": 1, "fmt": 3, "hashed": 1, "deps": {}, "out": {}}',
    '{"v": 1, "fmt": "binary", "hashed": 0, "deps": {"/x": [1, 2]}, "out": {}}',
    '{"v": 1, "fmt": "binary", "hashed": 0, "deps": {}, "out": {"artifacts": [{"kind": "file", "name": 5}]}}',
    '{"v": 99}',
    "[" * 5000 + "]" * 5000,
    '[3,"binary",1,{},{"artifacts":[{"kind":"file","name":"x","ref":"path:x","size":true}]}]',  # bool for int
    '[3,"binary",1,{"/x":[1,2]},{"artifacts":[],"findings":[],"license_files":[]}]',  # a stat key cut short
    'j[3,"binary",1,{},{"artifacts":[{"kind":"nonsense","name":"x","ref":"path:x"}]}]',
    '[3,null,0,{"/tmp/x\\u0000y":[1,2,3,4,5]},{"artifacts":[],"findings":[],"license_files":[]}]',  # NUL path
]


def test_damaged_entries_are_misses_never_output(tmp_path: Path, isolated_cache: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    for i in range(len(_DAMAGED)):  # a row for each damage at least
        (root / f"more{i}.txt").write_text(f"file {i}\n", encoding="utf-8")
    cold, _ = _scan(root)
    db = sqlite3.connect(isolated_cache / FILENAME)
    relpaths = [row[0] for row in db.execute("SELECT relpath FROM scans ORDER BY relpath")]
    assert len(relpaths) >= len(_DAMAGED)
    for i, rel in enumerate(relpaths):
        db.execute("UPDATE scans SET data=? WHERE relpath=?", (_DAMAGED[i % len(_DAMAGED)], rel))
    db.commit()
    db.close()
    proc = run_aibom("scan", str(root), "-o", "-", env=EPOCH)
    assert proc.returncode == 0 and "warning" not in proc.stderr
    assert proc.stdout == cold
    assert _counts(root, isolated_cache)[0] == len(relpaths)  # rewritten by that run


def test_concurrent_runs_share_the_cache(tmp_path: Path, isolated_cache: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    for i in range(40):
        (root / f"f{i}.bin").write_bytes(b"\x00" + bytes([i]) * 50)
    env = {**os.environ, "AIBOM_CACHE_DIR": str(isolated_cache), **EPOCH}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "aibom", "scan", str(root), "-o", "-"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outputs]
    assert all("warning" not in err for _, err in outputs)
    assert len({out for out, _ in outputs}) == 1
    assert _scan(root)[0] == outputs[0][0]


def test_rows_written_in_batches_during_a_scan_and_gone_files_dropped(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold scan writes new rows every FLUSH_ROWS files instead of holding them all; every row lands,
    the next scan answers every file from the cache, and rows of deleted files are removed."""
    monkeypatch.setattr(aibom.scancache, "FLUSH_ROWS", 3)
    writes: list[int] = []
    real_write = aibom.scancache.ScanCache._write

    def counted(self: aibom.scancache.ScanCache, statements: list[tuple[str, list[tuple[object, ...]]]]) -> None:
        writes.append(len(statements[-1][1]))
        real_write(self, statements)

    monkeypatch.setattr(aibom.scancache.ScanCache, "_write", counted)
    root = tmp_path / "p"
    _project(root)
    for i in range(20):
        (root / f"f{i}.bin").write_bytes(b"\x00" + bytes([i]) * 40)
    files = sum(1 for p in root.rglob("*") if p.is_file())
    assert _counts(root, isolated_cache) == (0, 25)
    assert len(writes) >= files // 3 and sum(writes) == files
    db = sqlite3.connect(isolated_cache / FILENAME)
    assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == files
    db.close()
    assert _counts(root, isolated_cache)[0] == files
    for i in range(5):
        (root / f"f{i}.bin").unlink()
    assert _counts(root, isolated_cache)[0] == files - 5
    db = sqlite3.connect(isolated_cache / FILENAME)
    assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == files - 5
    db.close()


def test_rows_of_a_tree_emptied_since_are_dropped(tmp_path: Path, isolated_cache: Path) -> None:
    root = tmp_path / "p"
    _project(root)
    _counts(root, isolated_cache)
    db = sqlite3.connect(isolated_cache / FILENAME)
    assert db.execute("SELECT count(*) FROM scans").fetchone()[0] > 5
    db.close()
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert _counts(root, isolated_cache) == (0, 0)
    db = sqlite3.connect(isolated_cache / FILENAME)
    assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == 0
    db.close()


def test_files_with_non_utf8_names_are_cached_too(tmp_path: Path, isolated_cache: Path) -> None:
    """A Latin-1 file name is held with lone surrogates, which the fast row encoding cannot write: such rows
    go through JSON escapes, and the rescan still answers them from the cache with the same BOM."""
    root = tmp_path / "p"
    _project(root)
    os.mkdir(os.path.join(os.fsencode(root), b"donn\xe9es"))
    with open(os.path.join(os.fsencode(root), b"donn\xe9es", b"caf\xe9.bin"), "wb") as f:
        f.write(b"\x00\x01" * 40)
    files = sum(1 for _ in os.walk(root) for _ in _[2])
    cold, _ = _scan(root)
    assert "caf" in cold
    assert _counts(root, isolated_cache) == (files, 0)
    db = sqlite3.connect(isolated_cache / FILENAME)
    escaped = [row[0] for row in db.execute("SELECT data FROM scans") if row[0].startswith("j")]
    db.close()
    assert len(escaped) == 1 and "\\udce9" in escaped[0]
    assert _scan(root)[0] == cold


def test_rows_match_files_whatever_their_names_sort_like(tmp_path: Path, isolated_cache: Path) -> None:
    """Rows are read in SQLite's path order and matched to the walked files sorted in Python: names that
    sort differently as paths and as folder walks ("a.txt" < "a/b"), non-ASCII, non-BMP and non-UTF-8 names
    must all be found again, and a file that is gone must lose its row."""
    root = tmp_path / "p"
    names = ["a.txt", "a/b.bin", "a-b.bin", "a0.bin", "A.bin", "é.bin", "日本/x.bin", "😀.bin", "z/é/😀.bin"]
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"\x00" + bytes([i]) * 30)
    with open(os.path.join(os.fsencode(root), b"caf\xe9.bin"), "wb") as f:
        f.write(b"\x00\xff" * 30)
    files = len(names) + 1
    assert _counts(root, isolated_cache) == (0, files)
    assert _counts(root, isolated_cache) == (files, 0)
    (root / "a-b.bin").unlink()
    assert _counts(root, isolated_cache) == (files - 1, 0)
    db = sqlite3.connect(isolated_cache / FILENAME)
    assert db.execute("SELECT count(*) FROM scans").fetchone()[0] == files - 1
    db.close()


def test_rows_that_cannot_be_read_are_replaced(tmp_path: Path, isolated_cache: Path) -> None:
    """A row whose text is not UTF-8 (written by something else) stops the read: that run scans every file
    and says so, and replaces the root's rows, so the next run reads the cache again, even when the damaged
    row is of a file that is gone (no scan rewrites it)."""
    root = tmp_path / "p"
    _project(root)
    _scan(root)
    (root / "blob.bin").unlink()
    cold, _ = _scan(root, "--no-cache")
    files = sum(1 for p in root.rglob("*") if p.is_file())
    db = sqlite3.connect(isolated_cache / FILENAME)
    db.execute("UPDATE scans SET data=CAST(x'fffe' AS TEXT) WHERE relpath='blob.bin'")
    assert db.total_changes == 1
    db.commit()
    db.close()
    damaged, err = _scan(root)
    assert damaged == cold and "warning: scan cache not read" in err
    healed, err = _scan(root)
    assert healed == cold and "warning" not in err
    assert _counts(root, isolated_cache) == (files, 0)
