"""Warm rescans with the scan-result cache, and the cold scan against the hashing limit (issue 8).

Usage: python bench/warm_rescan.py [--files 50000] [--big-mib 64] [--repeat 5] [--out bench/RESULTS.md]

Generates the `scan_tree.py` tree (a quarter of the files small opaque binaries, each a BOM component; the
rest Python modules; three safetensors files), then times whole `aibom scan` CLI runs (interpreter start-up
included) with their peak RSS: cold (empty cache), warm (nothing changed), one and 100 files changed,
--no-cache; and hashlib SHA-256 over the bytes aibom hashes on 1 thread and on every core.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from precompile import compile_aibom
from scan_tree import HERE, generate


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def hashing_limit(paths: list[Path], threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(_digest, paths))
    return time.perf_counter() - start


def scan(root: Path, cache: Path, *extra: str) -> tuple[float, int, str]:
    """(seconds, peak RSS in MiB, summary line) of one `aibom scan` run."""
    env = {**os.environ, "AIBOM_CACHE_DIR": str(cache), "SOURCE_DATE_EPOCH": "1700000000"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aibom", "scan", str(root), "-o", os.devnull, *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"aibom scan failed: {err}")
    return seconds, usage.ru_maxrss // 1024, err.strip().splitlines()[-1]


def median(repeat: int, run: Callable[[int], tuple[float, int, str]]) -> tuple[float, int, str]:
    """The run with the median time of `repeat` runs (its peak RSS: the largest of them)."""
    runs = sorted((run(r) for r in range(repeat)), key=lambda x: x[0])
    seconds, _, line = runs[len(runs) // 2]
    return seconds, max(rss for _, rss, _ in runs), line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--big-mib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5, help="runs per warm and changed row (median reported)")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()
    compile_aibom()
    root = HERE / "out" / "tree"
    hashed = generate(root, args.files, args.big_mib)
    total = sum(p.stat().st_size for p in hashed)
    cache = Path(tempfile.mkdtemp(prefix="aibom-bench-cache-"))
    cores = os.cpu_count() or 1
    one_thread = hashing_limit(hashed, 1)  # also warms the page cache: every row below is page-cache warm
    all_threads = hashing_limit(hashed, cores)
    rows = [("aibom cold scan (empty cache)", *scan(root, cache))]
    rows.append(("aibom warm rescan, nothing changed", *median(args.repeat, lambda r: scan(root, cache))))

    def one_changed(r: int) -> tuple[float, int, str]:
        (root / "pkg000" / "sub0" / "blob0.bin").write_bytes(b"\x00\x02changed" + bytes([r]))
        return scan(root, cache)

    def hundred_changed(r: int) -> tuple[float, int, str]:
        for i in range(1, 101):  # blob{j}.bin lives in pkg{j % 100}/sub{j % 7}, for every j divisible by 4
            j = i * 4
            (root / f"pkg{j % 100:03d}" / f"sub{j % 7}" / f"blob{j}.bin").write_bytes(b"\x00\x03" + bytes([i, r]))
        return scan(root, cache)

    rows.append(("aibom rescan, 1 file changed", *median(args.repeat, one_changed)))
    rows.append(("aibom rescan, 100 files changed", *median(args.repeat, hundred_changed)))
    rows.append(("aibom --no-cache", *scan(root, cache, "--no-cache")))
    shutil.rmtree(cache)
    n_files = sum(1 for _ in root.rglob("*") if _.is_file())
    lines = [
        f"## Warm rescans and the BOM stage (issue 8) ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {cores} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. Command: `python bench/warm_rescan.py --files {args.files} "
        f"--big-mib {args.big_mib} --repeat {args.repeat}`. Whole CLI runs (interpreter start-up included), page "
        "cache warm; warm and changed rows: the median of the runs.",
        "",
        f"Tree: {n_files} files; aibom hashes {len(hashed)} of them ({total / (1 << 20):.0f} MiB).",
        "",
        "| run | seconds | peak RSS MiB | vs hashlib, 1 thread |",
        "| --- | ---: | ---: | ---: |",
        f"| hashlib SHA-256 over the hashed files, 1 thread | {one_thread:.2f} | | 1.00x |",
        f"| hashlib SHA-256 over the hashed files, {cores} threads | {all_threads:.2f} | | "
        f"{all_threads / one_thread:.2f}x |",
    ]
    lines += [f"| {name} | {sec:.2f} | {rss} | {sec / one_thread:.2f}x |" for name, sec, rss, _ in rows]
    lines += ["", *[f"- {name}: `{line}`" for name, _, _, line in rows], ""]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
