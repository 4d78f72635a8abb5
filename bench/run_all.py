"""One-run benchmark of issue 8: aibom against the hashing limit, itself (warm/changed) and its peers, side by side.

Usage:
    python bench/make_project.py /tmp/aibom-bench/project [--scale 1.0]
    python bench/run_all.py /tmp/aibom-bench/project [--peers] [--repeat N] [--drop-caches] [--out FILE]

Every timed row runs as a child process; its peak RSS is read from `os.wait4` (the child and the
processes it waited for). Rows (letters as in the issue):
  a  hashlib SHA-256 over exactly the files aibom hashes (same rule as the pipeline: every artifact with
     content), 1 thread and one thread per core, page cache warm (every file is read once first);
     with --drop-caches also after `echo 3 > /proc/sys/vm/drop_caches` (root only);
  b  aibom cold scan (empty AIBOM_CACHE_DIR), BOM written to a file;
  c  warm rescan, nothing changed;
  d  rescans after changing 1, 10, 100, 1000 files (images get bytes appended, .py files a line);
  e  metadata of a 10 GiB sparse safetensors and GGUF file: identify + scan in-process, median of many;
  f  the project's pickles (from .bench-manifest.json): aibom and, with --peers, picklescan, modelscan,
     fickling, modelaudit on the same file list (peers live in bench/.peers-venv, bench/requirements-peers.txt);
  g  dependency SBOM of aibom's own environment: `aibom scan EMPTY --python PY` and, with --peers,
     `cyclonedx-py environment PY`; components, with licenses, and whether `aibom validate` accepts each.
A missed aibom target is profiled (cProfile) and the top entries go into the results with the table,
appended under "## One-run benchmark (issue 8)" in bench/RESULTS.md (or --out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from precompile import compile_aibom  # noqa: E402

ROOT = HERE.parent
PEERS_VENV = HERE / ".peers-venv"
PEERS = ("picklescan", "modelscan", "fickling", "modelaudit")
HEADING = "## One-run benchmark (issue 8)"
MANIFEST = ".bench-manifest.json"
GIB = 1 << 30
MIB = 1 << 20
CHANGES = (1, 10, 100, 1000)
RSS_TARGET_MIB = 200
META_GIB = 10

# Child: SHA-256 over the files listed in argv[1] (JSON), with argv[2] threads; prints {"seconds", "bytes"}.
HASH_WORKER = r"""
import hashlib, json, sys, time
from concurrent.futures import ThreadPoolExecutor
files = json.load(open(sys.argv[1])); threads = int(sys.argv[2])
def one(path):
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
t0 = time.perf_counter()
if threads == 1:
    digests = [one(p) for p in files]
else:
    with ThreadPoolExecutor(threads) as pool:
        digests = list(pool.map(one, files))
print(json.dumps({"seconds": time.perf_counter() - t0, "files": len(digests)}))
"""

# Child: the files aibom hashes in argv[1] (the pipeline's rule: every artifact with a content path).
HASHED_LIST_WORKER = r"""
import json, os, sys
from pathlib import Path
from aibom.scanners import ScanOutput, identify
from aibom.sniff import Probe
from aibom.walk import walk
root = os.path.realpath(sys.argv[1]); out = []
for entry in walk(Path(root)).files:
    try:
        probe, _ = Probe.from_file(entry.relpath, entry.path, root)
        scanner, fmt = identify(probe)
        res = ScanOutput()
        scanner.scan(probe, fmt, res)
    except Exception:  # the pipeline hashes nothing for a file it cannot read
        continue
    out += [a.content_path for a in res.artifacts if a.content_path and not a.sha256]
print(json.dumps(sorted(set(out))))
"""

# Child: metadata read of a big sparse file (argv[1]) with header_reads.metadata_read, argv[2] repetitions.
META_WORKER = r"""
import json, statistics, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from header_reads import metadata_read
path, reps = Path(sys.argv[1]), int(sys.argv[2])
first = metadata_read(path)
times = [metadata_read(path)[0] for _ in range(reps)]
print(json.dumps({"median": statistics.median(times), "min": min(times), "first": first[0],
                  "format": first[2], "parameters": first[3]}))
"""

# Child: aibom's scanners over the pickle list (stdin JSON), as pickle_peers.run_aibom does it.
AIBOM_PICKLE_WORKER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pickle_peers import run_aibom
res, seconds, times = run_aibom(json.loads(sys.stdin.read()), int(sys.argv[2]))
print(json.dumps({"results": res, "seconds": seconds, "times": times}))
"""


@dataclass
class Child:
    """A finished child process: wall seconds, peak RSS (MiB), exit code and output."""

    seconds: float
    rss_mib: float
    rc: int
    stdout: str
    stderr: str

    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    def json(self) -> dict:
        lines = [ln for ln in self.stdout.splitlines() if ln.startswith(("{", "["))]
        if self.rc != 0 or not lines:
            raise RuntimeError(f"child failed (exit {self.rc}): {self.stderr[-1500:]}")
        return json.loads(lines[-1])


def run_child(argv: list[str], env: dict[str, str] | None = None, stdin: str = "", timeout: float = 3600) -> Child:
    """Run argv to completion; reap it with os.wait4 to read its peak RSS."""
    with (
        tempfile.TemporaryFile("w+") as fin,
        tempfile.TemporaryFile("w+") as fout,
        tempfile.TemporaryFile("w+") as ferr,
    ):
        fin.write(stdin)
        fin.seek(0)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        return Child(seconds, usage.ru_maxrss / 1024, proc.returncode, fout.read(), ferr.read())


@dataclass
class Row:
    """One line of the results table."""

    key: str
    label: str
    seconds: float | None
    ratio: str = ""
    rss_mib: float | None = None
    target: str = ""
    verdict: str = ""
    note: str = ""
    rss_target: bool = False

    def rss_verdict(self) -> str:
        if not self.rss_target or self.rss_mib is None:
            return ""
        return "PASS" if self.rss_mib < RSS_TARGET_MIB else "MISS"


@dataclass
class Bench:
    """State of one benchmark run."""

    project: Path
    repeat: int
    work: Path
    python: str = sys.executable
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def env(self, cache: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("SOURCE_DATE_EPOCH", None)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        if cache is not None:
            env["AIBOM_CACHE_DIR"] = str(cache)
        return env

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        secs = "-" if row.seconds is None else f"{row.seconds:.3f}"
        rss = "" if row.rss_mib is None else f", {row.rss_mib:.0f} MiB"
        print(f"  [{row.key}] {row.label}: {secs} s{rss} {row.ratio} {row.verdict} {row.note}".rstrip(), flush=True)
        return row

    def repeated(self, make: Callable[[], Child]) -> Child:
        """Run `make()` --repeat times; the child with the median time (peak RSS: the largest)."""
        runs = [make() for _ in range(self.repeat)]
        runs.sort(key=lambda c: c.seconds)
        mid = runs[len(runs) // 2]
        mid.rss_mib = max(c.rss_mib for c in runs)
        return mid

    def scan(self, cache: Path, *extra: str, bom: Path | None = None) -> Child:
        argv = [self.python, "-m", "aibom", "scan", str(self.project), "-o", str(bom or os.devnull), *extra]
        child = run_child(argv, env=self.env(cache))
        if child.rc != 0:
            raise RuntimeError(f"aibom scan failed (exit {child.rc}): {child.stderr[-1500:]}")
        return child


def machine(project: Path) -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    disk = shutil.disk_usage(project)
    fs = "?"
    try:
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, kind = line.split()[:3]
            if str(project.resolve()).startswith(mnt) and len(mnt) > len(best):
                best, fs = mnt, f"{kind} on {dev} (mounted at {mnt})"
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram:.1f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; disk: {fs}, {disk.free / GIB:.0f} GiB free; "
        f"load average at start {load}"
    )


def warm_page_cache(files: list[str]) -> float:
    t0 = time.perf_counter()
    buf = bytearray(MIB)
    for path in files:
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass
    return time.perf_counter() - t0


def drop_caches() -> str | None:
    """Drop the page cache (root only); returns why it could not, or None."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"


def all_files(root: Path) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.join(dirpath, n) for n in names]
    return sorted(out)


def pct(x: float, y: float) -> str:
    return f"{x / y:.2f}x" if y > 0 else ""


def parse_hashed(line: str) -> str:
    """'... 85 files hashed, 0 from cache; ...' -> '85 hashed, 0 from cache'."""
    for part in line.split(";"):
        if "hashed" in part:
            return part.strip().replace("files hashed", "hashed").replace("file hashed", "hashed")
    return ""


# ---------------------------------------------------------------- the rows


def hashing_limit(b: Bench, hashed: list[str], drop: bool) -> tuple[float, float]:
    """Rows a: 1 thread and all cores, page cache warm (and dropped, when asked). Returns the two times."""
    listing = b.work / "hashed.json"
    listing.write_text(json.dumps(hashed))
    cores = os.cpu_count() or 1
    warm_s = warm_page_cache(all_files(b.project))
    b.notes.append(f"page cache warmed by reading every file of the project once ({warm_s:.1f} s)")
    times = {}
    for threads, key in ((1, "a1"), (cores, "a2")):
        child = b.repeated(lambda t=threads: run_child([b.python, "-c", HASH_WORKER, str(listing), str(t)]))
        secs = child.json()["seconds"]
        times[threads] = secs
        label = f"hashlib SHA-256, {'1 thread' if threads == 1 else f'{cores} threads'}, page cache warm"
        b.add(Row(key, label, secs, "1.00x" if threads == 1 else pct(secs, times[1]), child.rss_mib))
    if drop:
        why = drop_caches()
        if why:
            b.notes.append(f"--drop-caches: could not drop the page cache ({why}); cold-cache rows not measured")
        else:
            child = run_child([b.python, "-c", HASH_WORKER, str(listing), str(cores)])
            b.add(Row("a3", f"hashlib SHA-256, {cores} threads, page cache dropped", child.json()["seconds"],
                      pct(child.json()["seconds"], times[1]), child.rss_mib))  # fmt: skip
    return times[1], times[cores]


def scans(b: Bench, limit1: float, limit_n: float, drop: bool, nfiles: int) -> dict[str, float]:
    """Rows b, c, d. Returns timings the verdicts and profiles need."""
    cores = os.cpu_count() or 1
    caches: list[Path] = []

    def fresh() -> Path:
        caches.append(Path(tempfile.mkdtemp(prefix="cache-", dir=b.work)))
        return caches[-1]

    bom = b.work / "bom.cdx.json"
    cold = b.repeated(lambda: b.scan(fresh(), bom=bom))
    cache = caches[-1]
    verdict = "PASS" if cold.seconds <= 1.15 * limit_n else "MISS"
    ratio = f"{pct(cold.seconds, limit1)} of 1 thread, {pct(cold.seconds, limit_n)} of {cores} threads"
    b.add(Row("b", "aibom cold scan (empty cache), page cache warm", cold.seconds, ratio, cold.rss_mib,
              f"<= 1.15x hashlib on {cores} cores", verdict, parse_hashed(cold.last_line()), True))  # fmt: skip
    b.notes.append(f"cold scan: `{cold.last_line()}`")
    out = {"cold": cold.seconds}
    if drop and not any("could not drop" in n for n in b.notes):
        drop_caches()
        child = b.scan(fresh())
        b.add(Row("b2", "aibom cold scan (empty cache), page cache dropped", child.seconds,
                  pct(child.seconds, limit_n) + f" of {cores} threads", child.rss_mib,
                  note=parse_hashed(child.last_line()), rss_target=True))  # fmt: skip
        warm_page_cache(all_files(b.project))
    warm = b.repeated(lambda: b.scan(cache))
    out["warm"] = warm.seconds
    warm_limit = warm_target(nfiles)
    b.add(Row("c", f"aibom warm rescan, nothing changed ({nfiles} files)", warm.seconds, "", warm.rss_mib,
              f"< {warm_limit:.2f} s", "PASS" if warm.seconds < warm_limit else "MISS",
              parse_hashed(warm.last_line()), True))  # fmt: skip
    b.notes.append(f"warm rescan: `{warm.last_line()}`")
    per_file = cold.seconds / max(1, nfiles)
    candidates = changeable(b.project)
    rng = random.Random(8)
    rng.shuffle(candidates)
    done = 0
    for k in CHANGES:
        k_real = min(k, len(candidates))

        def changed(k_real: int = k_real) -> Child:
            nonlocal done
            for i in range(k_real):
                touch(candidates[(done + i) % len(candidates)], done + i)
            done += k_real
            return b.scan(cache)

        child = b.repeated(changed)
        limit = warm_limit + 2 * k_real * per_file
        out[f"d{k}"] = child.seconds
        b.add(Row(f"d{k}", f"aibom rescan, {k_real} file(s) changed", child.seconds,
                  pct(child.seconds, warm.seconds) + " of warm", child.rss_mib, f"< {limit:.2f} s",
                  "PASS" if child.seconds < limit else "MISS", parse_hashed(child.last_line()), True))  # fmt: skip
    return out


def warm_target(nfiles: int) -> float:
    """Issue 8's warm target, 1.5 s for 50,000 files, at this project's size (never below 1.5 s)."""
    return 1.5 * max(1.0, nfiles / 50_000)


def changeable(root: Path) -> list[Path]:
    """Files a rescan test may edit: dataset images (hashed) and Python modules (parsed), sorted."""
    rel = [os.path.relpath(p, root) for p in all_files(root)]
    images = [p for p in rel if p.startswith("datasets/images/") and p.endswith((".png", ".jpg"))]
    code = [p for p in rel if p.startswith("src/") and p.endswith(".py")]
    return [root / p for p in sorted(images + code)]


def touch(path: Path, n: int) -> None:
    """Change content (not only mtime): a comment for Python, trailing bytes for an image."""
    with open(path, "ab") as fh:
        fh.write(f"# bench edit {n}\n".encode() if path.suffix == ".py" else b"\0bench" + n.to_bytes(4, "little"))


def metadata(b: Bench, reps: int, profile: bool) -> dict[str, float]:
    """Rows e: a 10 GiB sparse safetensors and GGUF, header parse median over `reps` runs."""
    folder = Path(tempfile.mkdtemp(prefix="meta-", dir=b.work))
    out = {}
    for key, name, make in (("e1", "model.safetensors", "make_safetensors"), ("e2", "model-f16.gguf", "make_gguf")):
        path = folder / name
        # made in a child: the parent stays small, so children forked later do not inherit a larger peak RSS
        code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import header_reads as h; from pathlib import Path; "
        code += f"h.{make}(Path({str(path)!r}), {META_GIB * GIB})"
        run_child([b.python, "-c", code], env=b.env())
        child = run_child([b.python, "-c", META_WORKER, str(path), str(reps), str(HERE)], env=b.env())
        data = child.json()
        size = path.stat().st_size / GIB
        out[key] = data["median"]
        verdict = "PASS" if data["median"] < 0.010 else "MISS"
        b.add(Row(key, f"metadata of a {size:.1f} GiB {data['format']} (median of {reps})", data["median"],
                  f"min {data['min'] * 1000:.2f} ms", child.rss_mib, "< 10 ms", verdict,
                  f"{int(data['parameters']):,} parameters", True))  # fmt: skip
        if data["median"] >= 0.010 and profile:
            profile_meta(b, path, name)
        path.unlink()
    return out


def profile_meta(b: Bench, path: Path, name: str) -> None:
    prof = b.work / f"meta-{name}.prof"
    code = (
        f"import sys, cProfile; sys.path.insert(0, {str(HERE)!r}); from header_reads import metadata_read; "
        f"from pathlib import Path; p = Path({str(path)!r}); metadata_read(p); "
        f"cProfile.run('for _ in range(5): metadata_read(p)', {str(prof)!r})"
    )
    run_child([b.python, "-c", code], env=b.env())
    b.profiles.append(summarise(prof, f"metadata read of {name} (5 reads, cProfile)"))


def pickles(b: Bench, peers: bool, timeout: float) -> None:
    """Rows f: aibom and the peers on the project's pickle list."""
    manifest = json.loads((b.project / MANIFEST).read_text())
    bad = {str(b.project / p) for p in manifest["pickles"]["malicious"]}
    files = sorted({str(b.project / p) for p in manifest["pickles"]["benign"]} | bad)
    listing = json.dumps(files)
    results, failed = {}, {}
    sys.path.insert(0, str(HERE))
    from pickle_peers import per_kind

    reps = str(b.repeat)  # each tool: one untimed file (start-up), then the median of `repeat` passes
    child = run_child([b.python, "-c", AIBOM_PICKLE_WORKER, str(HERE), reps], env=b.env(), stdin=listing)
    results["aibom"] = (child, child.json())
    if peers:
        py = ensure_peers()
        from pickle_peers import WORKER

        env = dict(os.environ, PROMPTFOO_DISABLE_TELEMETRY="1", DO_NOT_TRACK="1", NO_COLOR="1")
        for tool in PEERS:
            child = run_child([str(py), "-c", WORKER, tool, reps, str(HERE)], env=env, stdin=listing, timeout=timeout)
            try:
                results[tool] = (child, child.json())
            except RuntimeError as exc:
                failed[tool] = f"timed out after {timeout:.0f} s" if child.seconds >= timeout else "failed"
                b.notes.append(f"{tool}: {failed[tool]}: {str(exc)[:300]}")
    fastest = min((d["seconds"] for t, (_, d) in results.items() if t != "aibom"), default=None)
    for tool in ("aibom", *PEERS):
        key = f"f-{tool}"
        if tool not in results:
            b.add(Row(key, f"pickles: {tool}", None, note=failed.get(tool, "not run (needs --peers)")))
            continue
        child, data = results[tool]
        caught = sum(1 for f in bad if data["results"][f][0])
        false = sum(1 for f in files if f not in bad and data["results"][f][0])
        per_file = data["seconds"] / len(files) * 1000
        target = verdict = ""
        if tool == "aibom" and fastest is not None:
            target, verdict = "per file <= fastest peer", ("PASS" if data["seconds"] <= fastest else "MISS")
        kinds = ", ".join(f"{k} {ms:.2f}" for k, ms in per_kind(files, data["times"]).items())
        b.add(Row(key, f"pickles ({len(files)} files): {tool}", data["seconds"], f"{per_file:.2f} ms/file",
                  child.rss_mib, target, verdict,
                  f"caught {caught}/{len(bad)}, benign flagged {false}/{len(files) - len(bad)}; "
                  f"ms/file by kind: {kinds}; whole child {child.seconds:.2f} s (start-up, 1 untimed file, "
                  f"{b.repeat} pass(es))", tool == "aibom"))  # fmt: skip


def ensure_peers() -> Path:
    py = PEERS_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements-peers.txt")], check=True)
    return py


def dependencies(b: Bench, peers: bool) -> None:
    """Rows g: dependency SBOM of aibom's own environment, aibom vs cyclonedx-py."""
    empty = Path(tempfile.mkdtemp(prefix="empty-", dir=b.work))
    target = sys.executable
    aibom_out = b.work / "deps-aibom.cdx.json"
    argv = [b.python, "-m", "aibom", "scan", str(empty), "--python", target, "--no-cache", "-o", str(aibom_out)]
    b.commands.append(" ".join(argv[1:]).replace(str(b.work), "WORK"))
    rows = [("g-aibom", "aibom scan EMPTY --python PY", argv, aibom_out, b.env())]
    cdx = PEERS_VENV / "bin" / "cyclonedx-py"
    if peers:
        ensure_peers()
        peer_out = b.work / "deps-cyclonedx-py.cdx.json"
        peer_argv = [str(cdx), "environment", target, "--of", "JSON", "-o", str(peer_out)]
        rows.append(("g-cyclonedx-py", "cyclonedx-py environment PY", peer_argv, peer_out, None))
    for key, label, argv, out, env in rows:
        child = run_child(argv, env=env)
        if child.rc != 0 or not out.exists():
            b.add(Row(key, label, child.seconds, rss_mib=child.rss_mib, note=f"failed: {child.stderr[-200:]}"))
            continue
        doc = json.loads(out.read_text())
        libs = [c for c in doc.get("components", []) if c.get("type") == "library"]
        licensed = sum(1 for c in libs if c.get("licenses"))
        valid = run_child([b.python, "-m", "aibom", "validate", str(out)], env=b.env())
        note = f"{len(libs)} libraries, {licensed} with licenses, `aibom validate`: "
        note += "valid" if valid.rc == 0 else "INVALID"
        b.add(Row(key, label, child.seconds, "", child.rss_mib, note=note, rss_target=key == "g-aibom"))
    if not peers:
        b.add(Row("g-cyclonedx-py", "cyclonedx-py environment PY", None, note="not run (needs --peers)"))


def profile_scans(b: Bench, timings: dict[str, float], missed: set[str]) -> None:
    """cProfile of the cold scan and the warm rescan when their targets were missed."""
    cache = Path(tempfile.mkdtemp(prefix="cache-prof-", dir=b.work))
    for key, title in (("b", "cold scan"), ("c", "warm rescan")):
        prof = b.work / f"{key}.prof"
        argv = [b.python, "-m", "cProfile", "-o", str(prof), "-m", "aibom", "scan", str(b.project), "-o", os.devnull]
        if key not in missed:
            if key == "b":
                b.scan(cache)  # the warm profile needs a warm cache
            continue
        child = run_child(argv, env=b.env(cache))
        if child.rc == 0:
            b.profiles.append(summarise(prof, f"aibom {title} (cProfile, {child.seconds:.1f} s under the profiler)"))


def summarise(prof: Path, title: str, top: int = 12) -> str:
    """Top functions by own time, and aibom's own functions by cumulative time."""
    stats = pstats.Stats(str(prof))
    raw = stats.stats  # type: ignore[attr-defined]
    total = max((v[3] for v in raw.values()), default=0.0)

    def name(fn: tuple[str, int, str]) -> str:
        path, line, func = fn
        short = path.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        return f"{short}:{line}({func})" if line else func

    by_own = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    ours = [kv for kv in raw.items() if str(ROOT / "aibom") in kv[0][0]]
    by_cum = sorted(ours, key=lambda kv: kv[1][3], reverse=True)[:top]
    lines = [f"#### Profile: {title}", "", f"Total {total:.2f} s. Top by own time:", ""]
    lines += ["| own s | cum s | calls | function |", "| ---: | ---: | ---: | --- |"]
    lines += [f"| {v[2]:.2f} | {v[3]:.2f} | {v[1]} | `{name(k)}` |" for k, v in by_own]
    lines += ["", "aibom functions by cumulative time:", ""]
    lines += ["| cum s | own s | calls | function |", "| ---: | ---: | ---: | --- |"]
    lines += [f"| {v[3]:.2f} | {v[2]:.2f} | {v[1]} | `{name(k)}` |" for k, v in by_cum]
    return "\n".join(lines)


# ---------------------------------------------------------------- output


def table(rows: list[Row]) -> list[str]:
    lines = ["| row | run | seconds | ratio | peak RSS MiB | target | result | RSS < 200 MB | notes |"]
    lines.append("| --- | --- | ---: | --- | ---: | --- | --- | --- | --- |")
    for r in rows:
        secs = "-" if r.seconds is None else (f"{r.seconds * 1000:.2f} ms" if r.seconds < 0.1 else f"{r.seconds:.2f}")
        rss = "" if r.rss_mib is None else f"{r.rss_mib:.0f}"
        lines.append(f"| {r.key} | {r.label} | {secs} | {r.ratio} | {rss} | {r.target} | {r.verdict} "
                     f"| {r.rss_verdict()} | {r.note} |")  # fmt: skip
    return lines


def write_results(path: Path, b: Bench, header: list[str], elapsed: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"### Run {stamp}", "", *header, "", *table(b.rows), "", "Notes:", ""]
    lines += [*(f"- {n}" for n in b.notes), ""]
    if b.profiles:
        lines += [*b.profiles, ""]
    lines += [f"Whole run: {elapsed:.0f} s.", ""]
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(HEADING)
    if start < 0:
        intro = (
            f"{HEADING}\n\nMade by `bench/make_project.py` + `bench/run_all.py` (one command each; see their "
            "docstrings). Each run below is self-contained; rows are lettered as in issue 8. Rescan targets: "
            "row `c` passes under 1.5 s per 50,000 files (issue 8 sets 1.5 s for 50,000; never below 1.5 s), and "
            "`d` rows under that plus twice the changed files' share of the cold scan (cold seconds / files x "
            "changed). Runs before 2026-11-24 06:50 UTC held every project to 1.5 s flat.\n\n"
        )
        text = text.rstrip("\n") + "\n\n" + intro + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        end = len(text) if end < 0 else end + 1
        text = text[:end].rstrip("\n") + "\n\n" + section + ("\n" + text[end:] if end < len(text) else "")
    path.write_text(text.rstrip("\n") + "\n")
    return section


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", type=Path, help="a folder made by bench/make_project.py")
    ap.add_argument(
        "--peers", action="store_true", help="also run picklescan, modelscan, fickling, modelaudit, cyclonedx-py"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per timed row (median reported)")
    ap.add_argument("--meta-reps", type=int, default=30, help="metadata reads per 10 GiB file")
    ap.add_argument(
        "--peer-timeout", type=float, default=900, help="seconds each peer may take on the pickles (all passes)"
    )
    ap.add_argument("--drop-caches", action="store_true", help="also measure with the page cache dropped (root)")
    ap.add_argument("--no-profile", action="store_true", help="do not profile missed targets")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args(argv)
    project = args.project.resolve()
    if not (project / MANIFEST).is_file():
        ap.error(f"{project} has no {MANIFEST}: make it with bench/make_project.py")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    manifest = json.loads((project / MANIFEST).read_text())
    compile_aibom()  # as pip does at install: no timed run compiles aibom's sources
    t0 = time.perf_counter()
    header = [
        f"Machine: {machine(project)}.",
        f"Project: `python bench/make_project.py PROJECT --scale {manifest['scale']}` "
        f"({manifest['files']:,} files, {manifest['apparent_bytes'] / GIB:.2f} GiB apparent, "
        f"{manifest['disk_bytes'] / GIB:.2f} GiB on disk; generated in {sum(manifest['seconds'].values()):.0f} s).",
        "Command: `python bench/run_all.py PROJECT" + "".join(f" {a}" for a in (argv or sys.argv[1:])[1:]) + "`.",
    ]
    with tempfile.TemporaryDirectory(prefix="aibom-run-all-") as tmp:
        b = Bench(project, args.repeat, Path(tmp))
        print(f"run_all: {project} (scale {manifest['scale']}, {manifest['files']} files)", flush=True)
        hashed_child = run_child([b.python, "-c", HASHED_LIST_WORKER, str(project)], env=b.env())
        hashed = hashed_child.json()
        size = sum(os.stat(p).st_size for p in hashed)
        b.notes.append(f"aibom hashes {len(hashed):,} files ({size / GIB:.2f} GiB) by the pipeline's rule "
                       f"(listed in {hashed_child.seconds:.1f} s)")  # fmt: skip
        limit1, limit_n = hashing_limit(b, hashed, args.drop_caches)
        timings = scans(b, limit1, limit_n, args.drop_caches, manifest["files"])
        metadata(b, args.meta_reps, not args.no_profile)
        pickles(b, args.peers, args.peer_timeout)
        dependencies(b, args.peers)
        missed = {r.key for r in b.rows if r.verdict == "MISS" or r.rss_verdict() == "MISS"}
        if missed and not args.no_profile:
            profile_scans(b, timings, missed)
        if args.drop_caches:
            b.notes.append("page cache: dropped with `echo 3 > /proc/sys/vm/drop_caches` for the rows that say so")
        elapsed = time.perf_counter() - t0
        write_results(args.out, b, header, elapsed)
    print("\n".join(table(b.rows)))
    print(f"run_all: {elapsed:.0f} s; appended to {args.out}")


if __name__ == "__main__":
    main()
