"""Scan many repositories: `aibom scan` one by one vs `aibom scan-many` (local --jobs 1/2, Dask with 2 workers).

Usage: python bench/many_repos.py [--copies 20] [--source examples/sentiment-demo] [--out bench/RESULTS.md]

Makes COPIES copies of SOURCE in a temp folder, then times (wall clock, each with an empty hash cache):
a shell-style loop of `aibom scan` per repository, `aibom scan-many --jobs 1`, `--jobs 2`, and
`--engine dask` against a local scheduler with two single-thread worker processes (started before the
clock starts, as an existing cluster would be). Appends a "## Many repositories" section to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from precompile import compile_aibom  # noqa: E402


def aibom(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibom", *args], env=env, capture_output=True, text=True, check=False)


def timed(label: str, fn, rows: list[tuple[str, float, str]]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    note = fn()
    rows.append((label, time.perf_counter() - started, note))
    print(f"{label}: {rows[-1][1]:.2f} s {note}", file=sys.stderr)


def env_with_cache(work: Path, name: str) -> dict[str, str]:
    cache = work / f"cache-{name}"
    cache.mkdir()
    return {**os.environ, "AIBOM_CACHE_DIR": str(cache), "SOURCE_DATE_EPOCH": "1700000000", "CI": "true"}


def start_cluster(work: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    info = work / "scheduler.json"
    env = env_with_cache(work, "dask-workers")
    procs = []

    def start(*args: str) -> None:
        log = open(work / f"dask-{len(procs)}.log", "wb")  # noqa: SIM115
        cmd = [sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))

    start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info))
    while not (info.exists() and info.stat().st_size):
        time.sleep(0.1)
    address = json.loads(info.read_text())["address"]
    for _ in range(2):
        start("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard")
    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--source", type=Path, default=HERE.parent / "examples" / "sentiment-demo")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    opts = parser.parse_args()
    compile_aibom()
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="aibom-many-") as tmp:
        work = Path(tmp)
        fleet = work / "fleet"
        for i in range(opts.copies):
            shutil.copytree(opts.source, fleet / f"repo-{i:03d}")
        repos = sorted(str(p) for p in fleet.iterdir())

        def one_by_one() -> str:
            env = env_with_cache(work, "loop")
            for repo in repos:
                aibom("scan", repo, "-q", "-o", str(work / f"{Path(repo).name}.cdx.json"), env=env)
            return ""

        def many(name: str, *extra: str) -> str:
            proc = aibom("scan-many", "--projects-in", str(fleet), "-o", str(work / name), *extra,
                         env=env_with_cache(work, name))  # fmt: skip
            return f"exit {proc.returncode}; `{proc.stderr.strip().splitlines()[-1].split('; index')[0]}`"

        timed(f"`aibom scan` x {opts.copies}, one after another", one_by_one, rows)
        timed("`aibom scan-many --jobs 1`", lambda: many("jobs1", "--jobs", "1"), rows)
        timed("`aibom scan-many --jobs 2`", lambda: many("jobs2", "--jobs", "2"), rows)
        address, procs = start_cluster(work)
        try:
            timed("`aibom scan-many --engine dask` (2 workers x 1 thread)",
                  lambda: many("dask", "--engine", "dask", "--scheduler", address), rows)  # fmt: skip
        finally:
            for proc in reversed(procs):  # workers first, then the scheduler
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        same = all(
            (work / "jobs1" / f.name).read_bytes() == (work / "dask" / f.name).read_bytes() == f.read_bytes()
            for f in (work / "jobs2").glob("*.cdx.json")
        )
    base = rows[0][1]
    files = sum(1 for p in opts.source.rglob("*") if p.is_file())
    table = "\n".join(f"| {label} | {sec:.2f} | {base / sec:.2f}x | {note} |" for label, sec, note in rows)
    section = f"""
## Many repositories ({time.strftime("%Y-%m-%d")})

Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, {platform.system()} \
{platform.release()}, load average {os.getloadavg()[0]:.1f} at the end. \
Command: `python bench/many_repos.py --copies {opts.copies}` \
({opts.copies} copies of `{opts.source.name}`, {files} files each; wall clock, empty hash cache per run; the Dask
cluster is started before the clock starts). BOMs identical across the three scan-many runs: {same}.

| run | seconds | speed-up vs one by one | notes |
| --- | ---: | ---: | --- |
{table}
"""
    with opts.out.open("a", encoding="utf-8") as fh:
        fh.write(section)
    print(section)


if __name__ == "__main__":
    main()
