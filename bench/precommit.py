"""A commit through aibom's pre-commit hooks in a generated 10k-file repository with a few GiB of weights.

Usage: python bench/precommit.py [--files 10000] [--big-gib 1] [--out bench/RESULTS.md]

Builds (in a temp folder) a git repository with `--files` small files (a quarter opaque binaries aibom hashes),
a requirements.txt, an MIT LICENSE, and three sparse safetensors files of `--big-gib` GiB each (kept out of git
through .git/info/exclude, as weights tracked by DVC or a download script would be; aibom still reads them).
Both hooks (aibom-check, aibom-bom) are configured from this checkout's last commit; the hook environment is
built before timing. Then times: the first commit (cold hash cache; aibom-bom writes the BOM, so it is a
fail-then-pass pair), and a warm commit changing requirements.txt (again the pair: the BOM changes). After each
phase an `aibom scan` with the same cache prints how many files it had to hash. Appends a section to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def sparse_safetensors(path: Path, gib: int) -> None:
    n = gib * (1 << 30) // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]}}).encode()
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        fh.truncate(8 + len(header) + n * 4)


def generate(root: Path, files: int, big_gib: int) -> None:
    for i in range(files):
        folder = root / f"pkg{i % 100:03d}" / f"sub{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 4 == 0:
            (folder / f"blob{i}.bin").write_bytes(b"\x00\x01" + os.urandom(4096))
        else:
            (folder / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    (root / "requirements.txt").write_text("numpy==2.1.0\n")
    (root / "LICENSE").write_text((REPO / "licenses" / "texts" / "MIT.txt").read_text(encoding="utf-8"))
    (root / "models").mkdir()
    for k in range(3):
        sparse_safetensors(root / "models" / f"shard{k}.safetensors", big_gib)


def run(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=check
    )


def timed_commit(root: Path, env: dict[str, str], message: str) -> tuple[float, float]:
    """`git commit` through the hooks: the run that rewrites the BOM (fails), then the one that passes."""
    run(["git", "add", "-A"], root, env)
    start = time.perf_counter()
    first = run(["git", "commit", "-q", "-m", message], root, env, check=False)
    failing = time.perf_counter() - start
    if first.returncode == 0:
        return failing, 0.0
    if "aibom-bom: bom.cdx.json" not in first.stdout:
        raise SystemExit(f"unexpected hook failure:\n{first.stdout}")
    run(["git", "add", "bom.cdx.json"], root, env)
    start = time.perf_counter()
    second = run(["git", "commit", "-q", "-m", message], root, env, check=False)
    if second.returncode != 0:
        raise SystemExit(f"second commit failed:\n{second.stdout}")
    return failing, time.perf_counter() - start


def hashed_line(root: Path, env: dict[str, str]) -> str:
    done = run([sys.executable, "-m", "aibom", "scan", ".", "--exclude", "/bom.cdx.json", "-o", os.devnull], root, env)
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--big-gib", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    opts = parser.parse_args()
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory(prefix="aibom-precommit-") as tmp:
        base = Path(tmp)
        root = base / "project"
        root.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "CI")}
        env.update(
            AIBOM_CACHE_DIR=str(base / "cache"), PRE_COMMIT_HOME=str(base / "pre-commit"), PRE_COMMIT_COLOR="never",
            GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.org", GIT_COMMITTER_NAME="b",
            GIT_COMMITTER_EMAIL="b@example.org",
        )  # fmt: skip
        generate(root, opts.files, opts.big_gib)
        run(["git", "init", "-q"], root, env)
        (root / ".git" / "info" / "exclude").write_text("/models/\n")
        config = (
            f"repos:\n- repo: {REPO}\n  rev: {rev.stdout.strip()}\n  hooks:\n  - id: aibom-check\n  - id: aibom-bom\n"
        )
        (root / ".pre-commit-config.yaml").write_text(config)
        start = time.perf_counter()
        run(["pre-commit", "install", "--install-hooks"], root, env)
        setup = time.perf_counter() - start
        cold = timed_commit(root, env, "initial")
        cold_line = hashed_line(root, env)
        with open(root / "requirements.txt", "a") as fh:
            fh.write("packaging==24.1\n")
        warm = timed_commit(root, env, "add a dependency")
        warm_line = hashed_line(root, env)
        total = sum(1 for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    section = f"""
## Pre-commit ({time.strftime("%Y-%m-%d")})

Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, {platform.system()} \
{platform.release()}. Command: `python bench/precommit.py --files {opts.files} --big-gib {opts.big_gib}`.

Repository: {total} files; three sparse safetensors of {opts.big_gib} GiB each (outside git); hooks aibom-check
and aibom-bom from this checkout (`rev` = last commit); hook environment built by pre-commit in {setup:.1f} s
(once, not in the rows). Each commit is the pair a formatter-style hook causes: aibom-bom rewrites bom.cdx.json
and fails, the user stages it, the commit passes (both hooks run both times).

| commit | fails (BOM rewritten), s | passes, s |
| --- | ---: | ---: |
| first commit, cold hash cache | {cold[0]:.2f} | {cold[1]:.2f} |
| change requirements.txt, warm cache | {warm[0]:.2f} | {warm[1]:.2f} |

- after the first commit: `{cold_line}`
- after the warm commit: `{warm_line}`
"""
    with open(opts.out, "a", encoding="utf-8") as fh:
        fh.write(section)
    print(section)


if __name__ == "__main__":
    main()
