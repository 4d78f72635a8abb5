"""Cold and warm `aibom scan` of a generated tree, against the SHA-256 hashing limit.

Usage: python bench/scan_tree.py [--files 10000] [--big-mib 512] [--out bench/RESULTS.md]

Generates (once, under bench/out/) a tree of small code/config files, small opaque binaries and a few
large safetensors files, then times: hashlib over the bytes aibom hashes (1 thread), a cold scan (empty
cache), a warm rescan (nothing changed) and a rescan after one file changed. Appends a section to the
results file with the machine details.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from precompile import compile_aibom  # noqa: E402


def safetensors_bytes(mib: int) -> bytes:
    n = mib * (1 << 20) // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]}}).encode()
    return struct.pack("<Q", len(header)) + header


def generate(root: Path, files: int, big_mib: int) -> list[Path]:
    """Returns the files aibom will hash (binaries and models)."""
    hashed: list[Path] = []
    if root.exists():
        shutil.rmtree(root)
    for i in range(files):
        folder = root / f"pkg{i % 100:03d}" / f"sub{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 4 == 0:
            path = folder / f"blob{i}.bin"
            path.write_bytes(b"\x00\x01" + os.urandom(4096))
            hashed.append(path)
        else:
            (folder / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n" * 20)
    models = root / "models"
    models.mkdir()
    for k in range(3):
        path = models / f"shard{k}.safetensors"
        head = safetensors_bytes(big_mib)
        with open(path, "wb") as fh:
            fh.write(head)
            remaining = big_mib * (1 << 20)
            chunk = os.urandom(1 << 20)
            while remaining:
                fh.write(chunk[: min(len(chunk), remaining)])
                remaining -= min(len(chunk), remaining)
        hashed.append(path)
    return hashed


def hashlib_limit(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as fh:
            hashlib.file_digest(fh, "sha256")
    return time.perf_counter() - start


def scan(root: Path, cache: Path, *extra: str) -> tuple[float, str]:
    env = {**os.environ, "AIBOM_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "aibom", "scan", str(root), "-o", os.devnull, *extra],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, proc.stderr.strip().splitlines()[-1]


def breakdown(root: Path, cache: Path) -> tuple[float, float]:
    """In-process warm timings: (walk+sniff+scan+cache look-ups, BOM build+validate+serialise)."""
    from aibom.bom.formats import render
    from aibom.pipeline import ScanOptions, scan_tree

    start = time.perf_counter()
    inv = scan_tree(root, ScanOptions(cache_dir=cache))
    mid = time.perf_counter()
    render(inv)
    return mid - start, time.perf_counter() - mid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--big-mib", type=int, default=512)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()
    compile_aibom()
    root = HERE / "out" / "tree"
    hashed = generate(root, args.files, args.big_mib)
    total = sum(p.stat().st_size for p in hashed)
    cache = Path(tempfile.mkdtemp(prefix="aibom-bench-cache-"))
    limit = hashlib_limit(hashed)  # warms the page cache too: all timings below are page-cache warm
    cold, cold_line = scan(root, cache)
    warm, warm_line = scan(root, cache)
    (root / "pkg000" / "sub0" / "blob0.bin").write_bytes(b"\x00\x02changed")
    one, one_line = scan(root, cache)
    nocache, _ = scan(root, cache, "--no-cache")
    scan_part, bom_part = breakdown(root, cache)
    shutil.rmtree(cache)
    n_files = sum(1 for _ in root.rglob("*") if _.is_file())
    lines = [
        f"## Foundation scan ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. Command: `python bench/scan_tree.py --files {args.files} "
        f"--big-mib {args.big_mib}`. Page cache warm for every row (the hashing limit reads the files first).",
        "",
        f"Tree: {n_files} files; aibom hashes {len(hashed)} of them ({total / (1 << 20):.0f} MiB: "
        f"{len(hashed) - 3} small binaries and 3 safetensors of {args.big_mib} MiB).",
        "",
        "| run | seconds | vs hashlib, 1 thread |",
        "| --- | ---: | ---: |",
        f"| hashlib SHA-256 over the hashed files, 1 thread | {limit:.2f} | 1.00x |",
        f"| aibom cold scan (empty cache) | {cold:.2f} | {cold / limit:.2f}x |",
        f"| aibom --no-cache | {nocache:.2f} | {nocache / limit:.2f}x |",
        f"| aibom warm rescan, nothing changed | {warm:.2f} | |",
        f"| aibom rescan, one file changed | {one:.2f} | |",
        f"| warm, in process: walk + sniff + scan + cache look-ups | {scan_part:.2f} | |",
        f"| warm, in process: build, validate and serialise the BOM | {bom_part:.2f} | |",
        "",
        f"- cold: `{cold_line}`",
        f"- warm: `{warm_line}`",
        f"- one changed: `{one_line}`",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
