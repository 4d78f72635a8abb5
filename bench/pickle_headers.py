"""Header-only reads of large pickle-based checkpoints: scan time and bytes read vs hashing the same file.

Usage: python bench/pickle_headers.py [--mib 1024] [--dir DIR]

Writes a torch zip checkpoint and a legacy one of about --mib MiB (a transformer-like state dict with
hundreds of tensors), scans each with aibom's scanner (counting the bytes it reads) and hashes it, and
prints a Markdown table (append it to bench/RESULTS.md by hand or with --out).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make(path: Path, mib: int, legacy: bool) -> int:
    import torch

    layers = 24
    per_layer = mib * 1024 * 1024 // 4 // layers
    side = int((per_layer / 12) ** 0.5)  # 12 * side^2 floats per layer (attention 4 + mlp 8)
    sd = {}
    for i in range(layers):
        for name, shape in (
            ("attn.q", (side, side)), ("attn.k", (side, side)), ("attn.v", (side, side)), ("attn.o", (side, side)),
            ("mlp.up", (4 * side, side)), ("mlp.down", (side, 4 * side)),
            ("ln1.weight", (side,)), ("ln1.bias", (side,)), ("ln2.weight", (side,)), ("ln2.bias", (side,)),
        ):  # fmt: skip
            sd[f"layers.{i}.{name}"] = torch.empty(shape)
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    return sum(t.numel() for t in sd.values())


def scan(path: Path) -> tuple[float, int, dict]:
    sys.path.insert(0, str(ROOT))
    from aibom.scanners import ScanOutput, identify
    from aibom.sniff import Probe

    probe, _ = Probe.from_file(path.name, str(path), str(path.parent))
    read = [len(probe.head)]
    original = probe.read

    def counting(offset: int, length: int) -> bytes:
        data = original(offset, length)
        read[0] += len(data)
        return data

    probe.read = counting  # type: ignore[method-assign]
    t0 = time.perf_counter()
    scanner, fmt = identify(probe)
    out = ScanOutput()
    scanner.scan(probe, fmt, out)
    seconds = time.perf_counter() - t0
    art = out.artifacts[0]
    facts = {"format": fmt, "params": art.model.parameter_count if art.model else None, "findings": len(out.findings)}
    return seconds, read[0], facts


def hash_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--dir")
    ap.add_argument("--out")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rows = []
        for legacy in (False, True):
            path = Path(tmp) / ("legacy.pt" if legacy else "model.pt")
            params = make(path, args.mib, legacy)
            size = path.stat().st_size
            hash_seconds(path)  # warm the page cache so both figures read from memory
            scan_s, read, facts = scan(path)
            assert facts["params"] == params, (facts, params)
            rows.append((facts["format"], size, params, scan_s, read, hash_seconds(path), facts["findings"]))
            path.unlink()
    lines = [
        "",
        "## Pickle-based checkpoints: header reads",
        "",
        f"`python bench/pickle_headers.py --mib {args.mib}` on {platform.machine()}, {os.cpu_count()} CPUs "
        f"(page cache warm).",
        "",
        "| format | file size | parameters | aibom scan | bytes read by the scan | SHA-256 of the file |",
        "|---|---|---|---|---|---|",
    ]
    for fmt, size, params, scan_s, read, hash_s, _ in rows:
        lines.append(
            f"| {fmt} | {size / 2**20:.0f} MiB | {params:,} | {scan_s * 1000:.1f} ms | {read / 1024:.0f} KiB "
            f"| {hash_s * 1000:.0f} ms |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
