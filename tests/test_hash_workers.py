"""Large files hashed in worker processes, small ones from the bytes the probe already read."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aibom import hashworker
from aibom.hashcache import HashCache
from aibom.hashing import Hasher, sha256_file
from aibom.hashworker import HashWorkers
from aibom.pipeline import ScanOptions, scan_tree
from aibom.sniff import HEAD_BYTES, Key, Probe, ReadError, key_of

from conftest import component_at, run_aibom


def _sparse(path: Path, size: int, tail: bytes = b"end") -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size - len(tail))
        fh.seek(size - len(tail))
        fh.write(tail)
    return path


def _uncached() -> HashCache:
    return HashCache(None)


def test_worker_hashes_equal_hashlib_and_keys_equal_stat(tmp_path: Path) -> None:
    names = ["empty", "small", "three-mib", "na\udcffme", "new\nline"]
    sizes = [0, 10, 3 * (1 << 20) + 7, 100, 5]
    hasher = Hasher(_uncached(), processes=2, large=0)
    try:
        for name, size in zip(names, sizes, strict=True):
            path = tmp_path / name
            data = os.urandom(size)
            path.write_bytes(data)
            digest, hit = hasher.hash(str(path))
            assert (digest, hit) == (hashlib.sha256(data).hexdigest(), False)
        workers = hasher._workers
        assert workers is not None
        started = workers.processes.started
        assert 1 <= len(started) <= 2  # the work went to processes
    finally:
        hasher.close()
    assert all(w.proc.poll() is not None for w in started)  # and they were ended


def test_worker_reports_what_it_cannot_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    hasher = Hasher(_uncached(), processes=1, large=0)
    try:
        with pytest.raises(ReadError, match="not a regular file"):
            hasher.hash(str(fifo))
        (tmp_path / "ok").write_bytes(b"fine")  # the worker goes on after an error
        assert hasher.hash(str(tmp_path / "ok"))[0] == hashlib.sha256(b"fine").hexdigest()
    finally:
        hasher.close()


def _first_worker(hasher: Hasher) -> HashWorkers:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = hasher._workers
        if workers is not None and workers.processes.started:
            return workers
        time.sleep(0.01)
    raise AssertionError("no worker process started")


def test_killed_worker_falls_back_to_hashing_in_the_thread(tmp_path: Path) -> None:
    big = _sparse(tmp_path / "big.bin", 3 << 30)
    expected, _ = sha256_file(str(big))
    hasher = Hasher(_uncached(), processes=1, large=1 << 20)
    got: list[str] = []
    thread = threading.Thread(target=lambda: got.append(hasher.hash(str(big))[0]))
    thread.start()
    try:
        workers = _first_worker(hasher)
        time.sleep(0.2)
        workers.processes.started[0].proc.kill()  # as the out-of-memory killer would
        thread.join(120)
    finally:
        hasher.close(abort=thread.is_alive())
        thread.join(60)
    assert got == [expected]
    assert hasher.processes == 0  # the rest of the scan hashes in threads


@pytest.mark.parametrize("processes", [1, 0])
def test_aborted_scan_stops_hashing_mid_file(tmp_path: Path, processes: int) -> None:
    """In a worker (killed) or in the thread itself (no workers): an abort ends the hash of a large file."""
    big = _sparse(tmp_path / "big.bin", 8 << 30)
    hasher = Hasher(_uncached(), processes=processes, large=1 << 20)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            hasher.hash(str(big))
        except BaseException as exc:  # recorded for the assertion
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    proc = None
    try:
        proc = _first_worker(hasher).processes.started[0].proc if processes else None
        time.sleep(0.2)
    finally:
        hasher.close(abort=True)
        thread.join(60)
    assert not thread.is_alive()
    assert [str(e) for e in errors] == ["scan interrupted"]
    assert proc is None or proc.poll() is not None


class _CountingHashWorkers(HashWorkers):
    """The real hashing processes, counting the files they hash."""

    hashed = 0

    def hash(self, path: str) -> tuple[str, Key]:
        answer = super().hash(path)
        _CountingHashWorkers.hashed += 1
        return answer


def test_scan_hashes_large_files_in_workers_and_caches_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashworker, "HashWorkers", _CountingHashWorkers)
    _CountingHashWorkers.hashed = 0
    tree = tmp_path / "tree"
    tree.mkdir()
    big = _sparse(tree / "weights.bin", 80 << 20, tail=b"\x00\x01tail")
    cache = tmp_path / "cache"
    inv = scan_tree(tree, ScanOptions(cache_dir=cache))
    (artifact,) = [a for a in inv.artifacts if a.location == "weights.bin"]
    assert artifact.sha256 == sha256_file(str(big))[0]
    assert (inv.stats.hashed_files, inv.stats.hashed_bytes) == (1, 80 << 20)
    assert _CountingHashWorkers.hashed == 1  # by a worker process, not the fallback
    cached = HashCache(cache)
    try:
        assert cached.get(key_of(os.stat(big))) == artifact.sha256  # the worker's key is the file's
    finally:
        cached.close()


def test_probe_of_a_whole_small_file_is_complete(tmp_path: Path) -> None:
    for size, complete in ((0, True), (HEAD_BYTES, True), (HEAD_BYTES + 1, False)):
        path = tmp_path / f"f{size}"
        path.write_bytes(os.urandom(size))
        probe, _ = Probe.from_file(path.name, str(path))
        assert probe.complete is complete


def test_small_files_hashed_from_the_head_match_the_file(tmp_path: Path) -> None:
    """Every file the probe read whole is hashed from those bytes; the BOM's hashes are the files'."""
    for i, size in enumerate((1, 100, HEAD_BYTES - 1, HEAD_BYTES, HEAD_BYTES + 1, 50_000)):
        (tmp_path / f"blob{i}.bin").write_bytes(b"\x00\xff" + os.urandom(size))
    doc = json.loads(run_aibom("scan", str(tmp_path), "-o", "-", "--no-cache").stdout)
    for path in tmp_path.glob("blob*.bin"):
        comp = component_at(doc, path.name)
        assert comp["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(path.read_bytes()).hexdigest()}]


def test_workers_never_import_an_aibom_from_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scanning a tree from inside it, where the tree has its own `aibom` package: the worker that
    `python -m aibom.hashworker` starts must run the scan's aibom, not import the tree's."""
    tree = tmp_path / "hostile"
    (tree / "aibom").mkdir(parents=True)
    marker = tmp_path / "imported"
    (tree / "aibom" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tree / "aibom" / "hashworker.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    data = tree / "data.bin"
    data.write_bytes(b"payload")
    monkeypatch.chdir(tree)
    hasher = Hasher(_uncached(), processes=1, large=0)
    try:
        assert hasher.hash(str(data))[0] == hashlib.sha256(b"payload").hexdigest()
        assert hasher.processes == 1  # answered by the worker, not by the fallback
    finally:
        hasher.close()
    assert not marker.exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_scan_stops_at_once_and_leaves_no_worker(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C (or a cancelled CI job's SIGTERM) while a worker hashes a 64 GiB file: the scan exits within
    seconds, not after the hash, and takes its worker with it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    _sparse(tree / "huge.bin", 64 << 30)  # about 30 s of hashing at 2 GB/s
    env = dict(os.environ, AIBOM_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "aibom", "scan", str(tree), "-o", str(tmp_path / "bom.json"), "-q"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:
            workers = [c for c in _children(proc.pid) if b"hashworker" in Path(f"/proc/{c}/cmdline").read_bytes()]
            time.sleep(0.05)
        assert workers, "no hashing worker started"
        time.sleep(0.5)
        start = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - start
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130 and "interrupted" in err
    assert took < 10, f"the scan took {took:.1f} s to stop"
    assert not any(_alive(w) for w in workers)
    assert not (tmp_path / "bom.json").exists()


def test_large_files_hashed_later_are_cached_like_the_rest(tmp_path: Path) -> None:
    """A large file's hash is finished off the file pipeline (the files after it do not wait for it); its
    scan is still cached with the hash, so a rescan answers every file from the cache."""
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    _sparse(tree / "a" / "big.bin", 70 << 20, tail=b"\x00\x02big")
    for i in range(300):
        (tree / f"small{i:03d}.bin").write_bytes(b"\x00\xff" + os.urandom(64))
    options = ScanOptions(cache_dir=tmp_path / "cache")
    cold = scan_tree(tree, options)
    warm = scan_tree(tree, options)
    assert cold.stats.hashed_files == 301 and cold.stats.hashed_bytes == (70 << 20) + 300 * 66
    assert warm.stats.scans_cached == warm.stats.files == 301 and warm.stats.hashed_files == 0
    digests = {a.location: a.sha256 for a in cold.artifacts}
    assert digests == {a.location: a.sha256 for a in warm.artifacts}
    assert digests["a/big.bin"] == sha256_file(str(tree / "a" / "big.bin"))[0]
