"""Streaming SHA-256 and the persistent hash cache: hits, misses, corruption, concurrency."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

from aibom.hashcache import FILENAME, HashCache
from aibom.hashing import sha256_file
from aibom.pipeline import ScanOptions, scan_tree
from aibom.scancache import FILENAME as SCANS_FILENAME
from aibom.sniff import key_of

from conftest import component_at, run_aibom


def _tree(root: Path, count: int, size: int = 64) -> None:
    """`count` opaque binaries (they become file components, so they are hashed)."""
    for i in range(count):
        folder = root / f"d{i % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"blob{i:05d}.bin").write_bytes(b"\x00\xff" + i.to_bytes(4, "little") * (size // 4))


def _scan(root: Path, cache: Path | None) -> tuple[int, int, int]:
    inv = scan_tree(root, ScanOptions(use_cache=cache is not None, cache_dir=cache))
    return len(inv.artifacts), inv.stats.hashed_files, inv.stats.cache_hits


def test_sha256_matches_hashlib_for_sizes_around_the_chunk(tmp_path: Path) -> None:
    for size in (0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7):
        path = tmp_path / f"f{size}"
        data = os.urandom(size)
        path.write_bytes(data)
        digest, _ = sha256_file(str(path))
        assert digest == hashlib.sha256(data).hexdigest()


def test_rescan_of_unchanged_10k_file_tree_rehashes_nothing(tmp_path: Path) -> None:
    root, cache = tmp_path / "tree", tmp_path / "cache"
    _tree(root, 10_000)
    assert _scan(root, cache) == (10_000, 10_000, 0)
    assert _scan(root, cache) == (10_000, 0, 10_000)
    # One changed file is the only one hashed again.
    changed = root / "d07" / "blob00007.bin"
    changed.write_bytes(b"\x00\xfechanged")
    assert _scan(root, cache) == (10_000, 1, 9_999)


def test_cache_keys_on_size_and_mtime(tmp_path: Path) -> None:
    root, cache = tmp_path / "tree", tmp_path / "cache"
    _tree(root, 3)
    _scan(root, cache)
    target = root / "d01" / "blob00001.bin"
    st = target.stat()
    target.write_bytes(b"\x00\xfd" + b"y" * (st.st_size - 2))  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    inv = scan_tree(root, ScanOptions(cache_dir=cache))
    assert (inv.stats.hashed_files, inv.stats.cache_hits) == (1, 2)
    comp = next(a for a in inv.artifacts if a.location == "d01/blob00001.bin")
    assert comp.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()


def test_no_cache_hashes_everything(tmp_path: Path) -> None:
    root, cache = tmp_path / "tree", tmp_path / "cache"
    _tree(root, 5)
    _scan(root, cache)
    assert _scan(root, None) == (5, 5, 0)
    proc = run_aibom("scan", str(root), "--no-cache", env={"AIBOM_CACHE_DIR": str(cache)})
    assert proc.returncode == 0
    assert "5 files hashed, 0 from cache" in proc.stderr


def test_corrupt_cache_is_rebuilt_never_trusted(tmp_path: Path) -> None:
    root, cache = tmp_path / "tree", tmp_path / "cache"
    _tree(root, 4)
    _scan(root, cache)
    (cache / FILENAME).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (cache / f"{FILENAME}{suffix}").unlink(missing_ok=True)
    (cache / SCANS_FILENAME).unlink()  # the scan-result cache would answer first; this test is about hashes
    inv = scan_tree(root, ScanOptions(cache_dir=cache))
    assert inv.warnings == ["hash cache was corrupt and has been rebuilt"]
    assert (inv.stats.hashed_files, inv.stats.cache_hits) == (4, 0)
    assert _scan(root, cache) == (4, 0, 4)


def test_cache_value_that_is_not_a_hash_is_ignored(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"\x00abc")
    cache = HashCache(tmp_path / "cache")
    key = key_of(target.stat())
    cache.put(key, "not-a-sha256")
    cache.flush()
    assert cache.get(key) is None
    cache.close()


def test_concurrent_scans_share_the_cache_safely(tmp_path: Path) -> None:
    root, cache = tmp_path / "tree", tmp_path / "cache"
    _tree(root, 300)
    env = {**os.environ, "AIBOM_CACHE_DIR": str(cache)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "aibom", "scan", str(root)],
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
    assert _scan(root, cache) == (300, 0, 300)


def test_cache_folder_that_cannot_be_created_disables_the_cache(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the cache folder should be")
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    proc = run_aibom("scan", str(tmp_path), env={"AIBOM_CACHE_DIR": str(tmp_path / "blocker" / "sub")})
    assert proc.returncode == 0
    assert "aibom: warning: hash cache disabled" in proc.stderr


def test_hash_in_bom_matches_file(tmp_path: Path) -> None:
    data = os.urandom(5 * (1 << 20))
    (tmp_path / "blob.bin").write_bytes(b"\x00" + data)
    from conftest import scan_json

    comp = component_at(scan_json(tmp_path), "blob.bin")
    assert comp["hashes"][0]["content"] == hashlib.sha256(b"\x00" + data).hexdigest()


def _open_and_write(job: tuple[str, int]) -> str | None:
    folder, writer = job
    cache = HashCache(Path(folder))
    for i in range(20):
        cache.put((1, i, writer, 1, 1), "ab" * 32)
    cache.close()
    return cache.warning


def test_processes_racing_to_create_the_cache_never_call_it_corrupt(tmp_path: Path) -> None:
    """Creating the database and switching it to WAL takes locks SQLite does not wait for; a process
    that meets one must retry, not delete the others' database as corrupt (seen in CI)."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        for round_ in range(30):
            folder = str(tmp_path / f"c{round_}")
            warnings = [w for w in pool.map(_open_and_write, [(folder, w) for w in range(8)], chunksize=1) if w]
            assert warnings == [], (round_, warnings)
            cache = HashCache(Path(folder))
            assert cache.warning is None
            count = cache._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]  # type: ignore[union-attr]
            cache.close()
            assert count == 8 * 20
