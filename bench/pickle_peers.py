"""Pickle scanning vs peers: run the test corpora through aibom, picklescan, modelscan, fickling and modelaudit.

Usage (from the repository root, in aibom's test environment, which has torch/numpy/sklearn/joblib to make
the corpora):

    python bench/pickle_peers.py [--out bench/RESULTS.md] [--keep DIR]

The peers are installed into `bench/.peers-venv` (created on first run, git-ignored) and each runs in one
process of its own over every file through its Python API, so interpreter start-up is not counted. A tool
"flags" a file when it reports it at its error level (dangerous / critical / unsafe) or fails to scan it:
both make a CI gate stop. Caught = malicious files flagged; false errors = benign files flagged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = HERE / ".peers-venv"
PEERS = ("picklescan", "modelscan", "fickling", "modelaudit")

# Runs inside the peers' venv: one tool over a list of files; prints JSON {path: [flagged, detail]} and seconds.
WORKER = r"""
import json, os, sys, zipfile, warnings, logging
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
tool, files = sys.argv[1], json.loads(sys.stdin.read())

def picklescan(path):
    from picklescan.scanner import scan_file_path
    r = scan_file_path(path)
    return bool(r.infected_files or r.scan_err), f"infected={r.infected_files} err={r.scan_err}"

def modelscan(path):
    from modelscan.modelscan import ModelScan
    r = ModelScan().scan(path)
    bad = [i for i in r["issues"] if i.get("severity") in ("CRITICAL", "HIGH", "MEDIUM")]
    return bool(bad or r["errors"]), f"issues={len(bad)} errors={len(r['errors'])}"

def fickling(path):
    import fickling as f
    if zipfile.is_zipfile(path):
        results = f.scan_zip_archive(path, graceful=True)
        bad = [k for k, v in results.items() if not v]
        return bool(bad), f"unsafe members={bad[:3]}"
    r = f.scan_file(path, graceful=True)
    return (not bool(r)), f"severity={r.severity} errors={len(r.errors)}"

def modelaudit(path):
    from modelaudit.core import scan_model_directory_or_file
    r = scan_model_directory_or_file(path, cache_enabled=False)
    d = r if isinstance(r, dict) else r.model_dump()
    crit = [i for i in d["issues"] if str(i.get("severity")).lower() in ("critical", "error")]
    return bool(crit or d.get("has_errors")), f"critical={len(crit)} has_errors={d.get('has_errors')}"

sys.path.insert(0, sys.argv[3])  # bench/: the same timing loop as aibom's (stdlib only)
from pickle_peers import timed_passes
out, seconds, times = timed_passes(globals()[tool], files, int(sys.argv[2]), flag_crashes=True)
print(json.dumps({"results": out, "seconds": seconds, "times": times}))
"""


def ensure_peers() -> Path:
    py = PEERS_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEERS], check=True)
    return py


def versions(py: Path) -> dict[str, str]:
    code = f"import importlib.metadata as m, json; print(json.dumps({{p: m.version(p) for p in {PEERS!r}}}))"
    return json.loads(subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout)


def timed_passes(
    fn: Callable[[str], Any], files: list[str], reps: int, flag_crashes: bool = False
) -> tuple[dict[str, list], float, dict[str, float]]:
    """`fn` over `files`: one untimed file first (start-up: imports, registries, is not per-file work),
    then `reps` timed passes; (path -> result, seconds, path -> seconds) of the median pass. With
    `flag_crashes` a file whose call raises is flagged (a crash stops a CI gate), as the peers are judged."""
    if files:
        try:
            fn(files[0])
        except Exception:
            if not flag_crashes:
                raise
    passes = []
    for _ in range(reps):
        out: dict[str, list] = {}
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        for path in files:
            t = time.perf_counter()
            try:
                out[path] = list(fn(path))
            except Exception as exc:
                if not flag_crashes:
                    raise
                out[path] = [True, f"exception {type(exc).__name__}"]
            times[path] = time.perf_counter() - t
        passes.append((time.perf_counter() - t0, out, times))
    seconds, out, times = sorted(passes, key=lambda p: p[0])[len(passes) // 2]  # the median pass
    return out, seconds, times


def run_peer(py: Path, tool: str, files: list[str], reps: int = 1) -> tuple[dict[str, list], float]:
    env = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", DO_NOT_TRACK="1", NO_COLOR="1")
    proc = subprocess.run(
        [str(py), "-c", WORKER, tool, str(reps), str(HERE)],
        input=json.dumps(files), capture_output=True, text=True, env=env, timeout=3600,
    )  # fmt: skip
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not line:
        raise RuntimeError(f"{tool} worker failed: {proc.stderr[-2000:]}")
    data = json.loads(line[-1])
    return data["results"], data["seconds"]


def run_aibom(files: list[str], reps: int = 1) -> tuple[dict[str, list], float, dict[str, float]]:
    """aibom's scanners in-process, per file, the way the pipeline runs them (identify, scan; no hashing):
    (path -> [flagged, detail], seconds, path -> seconds) of the median of `reps` passes, after one untimed
    file (start-up: the scanner registry loads on the first identification), as the peers are timed."""
    sys.path.insert(0, str(ROOT))
    from aibom.inventory import Severity
    from aibom.scanners import ScanOutput, identify
    from aibom.sniff import Probe

    def one(path: str) -> list:
        probe, _ = Probe.from_file(os.path.basename(path), path, os.path.dirname(path))
        scanner, fmt = identify(probe)
        res = ScanOutput()
        scanner.scan(probe, fmt, res)
        errors = [f for f in res.findings if f.severity is Severity.ERROR]
        return [bool(errors), f"{fmt}: {errors[0].message[:80] if errors else 'clean'}"]

    return timed_passes(one, files, reps)


def pickle_kind(path: str) -> str:
    """Which kind of pickle file this is, by its first bytes (for per-kind timings)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80":
        return "protocol 2-5"
    if head[:2] == b"PK":
        return "zip (torch)"
    zlib = len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0
    if zlib or head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"]\x00\x00")):
        return "compressed"
    return "protocol 0/1"


def per_kind(files: list[str], times: dict[str, float]) -> dict[str, float]:
    """Milliseconds per file for each kind of file."""
    kinds: dict[str, list[float]] = {}
    for path in files:
        kinds.setdefault(pickle_kind(path), []).append(times[path])
    return {kind: sum(t) / len(t) * 1000 for kind, t in sorted(kinds.items())}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--keep", help="write the corpora here instead of a temporary folder")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from pickle_corpus import write_corpora

    py = ensure_peers()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        benign, malicious = write_corpora(root)
        files = [str(p) for p in benign + malicious]
        results: dict[str, tuple[dict[str, list], float]] = {"aibom": run_aibom(files)[:2]}
        for tool in PEERS:
            results[tool] = run_peer(py, tool, files)
    mal = {str(p) for p in malicious}
    rows = []
    caught_by_any = {f for tool, (res, _) in results.items() if tool != "aibom" for f in mal if res[f][0]}
    for tool, (res, seconds) in results.items():
        caught = sum(1 for f in mal if res[f][0])
        false = [Path(f).name for f in files if f not in mal and res[f][0]]
        missed = sorted(Path(f).name for f in mal if not res[f][0])
        rows.append((tool, caught, len(mal) - caught, len(false), seconds, seconds / len(files) * 1000, missed, false))
    aibom_missed = sorted(Path(f).name for f in caught_by_any if not results["aibom"][0][f][0])
    write_results(Path(args.out), rows, len(benign), len(mal), versions(py), aibom_missed)
    for r in rows:
        print(f"{r[0]:<11} caught {r[1]:>3}/{len(mal)}  missed {r[2]:>3}  false errors {r[3]:>2}  {r[4]:.2f}s")


def write_results(path: Path, rows: list, n_benign: int, n_mal: int, vers: dict[str, str], aibom_missed: list) -> None:
    lines = [
        "## Pickle scanning vs peers",
        "",
        f"Generated by `python bench/pickle_peers.py` on {time.strftime('%Y-%m-%d', time.gmtime())}.",
        f"Machine: {machine()}.",
        "Peers: " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".",
        f"Corpora (made by `tests/pickle_corpus.py`): {n_mal} malicious samples covering the published bypass "
        f"classes, {n_benign} benign files made by torch, numpy, scikit-learn and joblib.",
        "A file is *flagged* when the tool reports it at its error level or fails on it.",
        "",
        "| tool | caught | missed | false errors | seconds | ms per file |",
        "|---|---|---|---|---|---|",
    ]
    for tool, caught, missed, false, seconds, per_file, _, _ in rows:
        lines.append(f"| {tool} | {caught}/{n_mal} | {missed} | {false} | {seconds:.2f} | {per_file:.1f} |")
    lines += ["", "Missed and false errors, per tool:", ""]
    for tool, _, _, _, _, _, missed, false in rows:
        lines.append(f"- **{tool}**: missed {', '.join(missed) or 'none'}; false errors {', '.join(false) or 'none'}")
    lines += [
        "",
        f"Samples some peer caught and aibom missed: {', '.join(aibom_missed) or 'none'}.",
        "",
        "Caveats: the corpora are aibom's own (written from the published bypass classes, not taken from the "
        "peers), so they reflect what aibom was built to catch. Each peer runs through its general file-scanning "
        "API with default settings (fickling: `scan_zip_archive` for zips, `scan_file` otherwise; modelaudit "
        "with its cache off); some peers do not aim to cover every format here (fickling is a pickle analyser, "
        "not an archive or NumPy scanner). Timings include each tool's per-file work only, not its start-up "
        "(one untimed file first); modelaudit's time varies a lot between runs on this machine.",
        "",
    ]
    section = "\n".join(lines)
    old = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = old.find("## Pickle scanning vs peers")
    if start >= 0:
        end = old.find("\n## ", start + 1)
        old = old[:start] + old[end + 1 :] if end >= 0 else old[:start]
    path.write_text(old.rstrip() + "\n\n" + section)


if __name__ == "__main__":
    main()
