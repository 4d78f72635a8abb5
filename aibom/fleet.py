"""Scan many repositories: one task per repository, run by local processes or on a Dask cluster.

The task, `scan_one(path, options)`, is a top-level function taking a str path and a plain dict, so the same
call runs in a `ProcessPoolExecutor` or on a Dask worker. It returns the BOM (and findings JSON) as *text*:
the client writes every file into `out_dir`, so on a real cluster only the scanned paths must be visible to
the workers (a shared filesystem, same absolute paths); `out_dir` only needs to exist on the client.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__
from .output import write_atomic
from .textsafe import for_terminal

ENGINES = ("local", "dask")
SUFFIXES = {
    "cyclonedx-json": ".cdx.json",
    "cyclonedx-xml": ".cdx.xml",
    "spdx-json": ".spdx.json",
    "spdx3-json": ".spdx3.jsonld",
}
INDEX = "index.json"
MAX_NAME = 60  # characters of the repository's basename kept in its output file name
MAX_ERROR = 300  # characters of a one-line error message kept in the index
CONNECT_TIMEOUT = 20  # seconds to reach a Dask scheduler


class FleetError(Exception):
    """A problem with the run itself (bad engine, unreachable scheduler, dask missing): nothing was scanned."""


@dataclass
class RepoResult:
    """One row of `index.json`: what happened to one repository."""

    path: str
    status: str = "ok"  # ok | error
    error: str | None = None
    bom: str | None = None  # file name inside out_dir
    findings_file: str | None = None
    components: int = 0
    models: int = 0
    findings: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    check_failed: bool | None = None  # None when the policy check was not run
    seconds: float = 0.0
    worker: str | None = None  # host:pid of the process that ran the task


def output_name(path: str, fmt: str = "cyclonedx-json") -> str:
    """`<basename>-<10 hex of sha256(abs path)><suffix>`: deterministic, and distinct for distinct paths."""
    absolute = os.path.abspath(path)
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(absolute.rstrip(os.sep)) or "root")[:MAX_NAME]
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{base.lstrip('.') or 'repo'}-{digest}{SUFFIXES[fmt]}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:MAX_ERROR]


def scan_one(path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Scan one repository (an absolute path) into BOM text; never raises: a failure is an `error` row.

    `options`: format, spec_version, excludes (list), use_cache, threads, check, fail_on, policy (abs path or
    None), source_date_epoch (str or None). Returns the RepoResult fields plus `bom_text`/`findings_text`.
    """
    started = time.perf_counter()
    row = RepoResult(path=path, worker=f"{socket.gethostname()}:{os.getpid()}")
    out: dict[str, Any] = {}
    try:
        out = _scan(path, options, row)
    except Exception as exc:  # any failure of one repository is reported, never raised to the engine
        row.status, row.error = "error", _one_line(exc)
    row.seconds = round(time.perf_counter() - started, 3)
    return asdict(row) | out


def _scan(path: str, options: dict[str, Any], row: RepoResult) -> dict[str, str]:
    from .bom.cdx_basics import epoch_timestamp
    from .bom.formats import render
    from .inventory import Kind
    from .pipeline import ScanOptions, fragment_cache, scan_tree
    from .policy import engine as policy_engine

    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"path {path} does not exist")
    if not root.is_dir():
        raise NotADirectoryError(f"path {path} is not a folder")
    scan_options = ScanOptions(
        excludes=tuple(options.get("excludes", ())),
        use_cache=options.get("use_cache", True),
        jobs=options.get("threads"),
        processes=options.get("processes"),
    )
    fmt = options.get("format", "cyclonedx-json")
    inv = scan_tree(root, scan_options)
    policy_engine.openness(inv)  # as `aibom scan` does before writing
    timestamp = epoch_timestamp(options.get("source_date_epoch"))  # the client's SOURCE_DATE_EPOCH, or now
    with fragment_cache(root, scan_options, fmt) as fragments:
        out = {
            "bom_text": render(
                inv, fmt, options.get("spec_version", "1.6"), fragments, timestamp, options.get("processes")
            )
        }
    row.components = len(inv.artifacts)
    row.models = sum(1 for a in inv.artifacts if a.kind == Kind.MODEL)
    if options.get("check"):
        out["findings_text"] = _check(inv, root, options, row)
    else:
        for f in inv.findings:
            row.findings[str(f.severity)] = row.findings.get(str(f.severity), 0) + 1
    return out


def _check(inv: Any, root: Path, options: dict[str, Any], row: RepoResult) -> str:
    """The policy check of `aibom check ROOT --format json`, on the inventory already scanned."""
    from .policy import engine as policy_engine
    from .policy.config import PolicyConfig, discover
    from .policy.config import load as load_policy
    from .report import findings_json

    policy = options.get("policy") or (None if options.get("no_policy") else discover(root))
    config = load_policy(Path(policy)) if policy else PolicyConfig()
    fail_on = options.get("fail_on", "error")
    result = policy_engine.check(inv, config)
    row.check_failed = policy_engine.fails(result, fail_on)
    row.findings = {s: result.count(s) for s in ("error", "warning", "info")}  # type: ignore[arg-type]
    return findings_json.render(result, str(root), fail_on, row.check_failed, config.source)


def unique_paths(paths: Iterable[str]) -> list[str]:
    """Absolute paths, in the order given, each once."""
    seen: dict[str, None] = {}
    for p in paths:
        seen.setdefault(os.path.abspath(p), None)
    return list(seen)


def scan_many(
    paths: Iterable[str],
    out_dir: str | Path,
    *,
    engine: str = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    options: dict[str, Any] | None = None,
    on_result: Callable[[RepoResult], None] | None = None,
) -> list[RepoResult]:
    """Scan every path into `out_dir/<name>` (see output_name) and write `out_dir/index.json`.

    engine "local": a process pool of `jobs` processes (default: cores). engine "dask": the tasks go to the
    `distributed` scheduler at `scheduler` (e.g. tcp://host:7786). Rows come back in the order of `paths`;
    `on_result` is called as each repository finishes. Raises FleetError when the run cannot start.
    """
    if engine not in ENGINES:
        raise FleetError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    client = connect(scheduler) if engine == "dask" else None
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError:
        if client is not None:
            client.close()
        raise
    opts = dict(options or {})
    opts.setdefault("source_date_epoch", os.environ.get("SOURCE_DATE_EPOCH"))
    fmt = opts.setdefault("format", "cyclonedx-json")
    if opts.get("policy"):
        opts["policy"] = os.path.abspath(opts["policy"])
    repos = unique_paths(paths)
    started = time.perf_counter()
    if client is not None:
        opts.setdefault("processes", 1)  # a Dask worker runs several tasks at once: one hashing process each
    raw = _run_dask(repos, opts, client) if client is not None else _run_local(repos, opts, jobs)
    rows: dict[str, RepoResult] = {}
    for path, payload in raw:
        row = _store(path, payload, out, fmt)
        rows[path] = row
        if on_result:
            on_result(row)
    results = [rows[p] for p in repos]
    index = {
        "aibom": __version__,
        "engine": engine,
        "format": fmt,
        "check": bool(opts.get("check")),
        "seconds": round(time.perf_counter() - started, 3),
        "repositories": [asdict(r) for r in results],
    }
    write_atomic(out / INDEX, [json.dumps(index, indent=2) + "\n"])  # ASCII: any path name survives
    return results


def _store(path: str, payload: dict[str, Any] | BaseException, out: Path, fmt: str) -> RepoResult:
    """Write one task's BOM and findings into out_dir and return its index row."""
    if isinstance(payload, BaseException):  # the task itself was lost (a killed worker process ...)
        return RepoResult(path=path, status="error", error=f"task failed: {_one_line(payload)}")
    if not isinstance(payload, dict):
        return RepoResult(path=path, status="error", error=f"unexpected task result: {type(payload).__name__}")
    bom_text = payload.pop("bom_text", None)
    findings_text = payload.pop("findings_text", None)
    try:
        row = RepoResult(**{k: payload[k] for k in RepoResult.__dataclass_fields__ if k in payload})
    except (TypeError, KeyError) as exc:  # a worker with another aibom version answered something else
        return RepoResult(path=path, status="error", error=f"unexpected task result: {_one_line(exc)}")
    row.path = path
    if row.status != "ok":
        return row
    if not isinstance(bom_text, str):
        return replace(row, status="error", error="unexpected task result: no BOM text")
    name = output_name(path, fmt)
    try:
        write_atomic(out / name, [bom_text])
        row.bom = name
        if findings_text is not None:
            findings = name[: -len(SUFFIXES[fmt])] + ".findings.json"
            write_atomic(out / findings, [findings_text])
            row.findings_file = findings
    except OSError as exc:
        row.status, row.error = "error", f"cannot write to {out}: {exc.strerror or exc}"
    return row


def _run_local(repos: list[str], opts: dict[str, Any], jobs: int | None) -> Iterator[tuple[str, Any]]:
    cores = os.cpu_count() or 1
    workers = max(1, min(jobs or cores, len(repos) or 1))
    opts.setdefault("threads", max(2, (2 * cores) // workers))  # file threads per scan: no oversubscription
    opts.setdefault("processes", max(1, cores // workers))  # and hashing/rendering worker processes
    if not repos:
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(scan_one, path, opts): path for path in repos}
        try:
            for future in as_completed(futures):
                try:
                    yield futures[future], future.result()
                except Exception as exc:  # BrokenProcessPool: the process running it died
                    yield futures[future], exc
        except BaseException:  # Ctrl-C / SIGTERM: start nothing more
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def connect(scheduler: str | None) -> Any:
    """A `distributed.Client` for `scheduler`; FleetError (one line) when Dask is missing or unreachable."""
    if not scheduler:
        raise FleetError("--engine dask needs --scheduler tcp://HOST:PORT (a running dask scheduler)")
    try:
        from distributed import Client
    except ImportError:
        raise FleetError("--engine dask needs Dask: pip install 'aibom[dask]'") from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise FleetError(f"cannot connect to the Dask scheduler {scheduler}: {_one_line(exc)}") from None


def _run_dask(repos: list[str], opts: dict[str, Any], client: Any) -> Iterator[tuple[str, Any]]:
    from distributed import as_completed as dask_completed

    with client:
        futures = {
            client.submit(scan_one, path, opts, pure=False, key=f"aibom-scan-{output_name(path)}"): path
            for path in repos
        }
        for future in dask_completed(list(futures), loop=client.loop):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # the worker died or the task was cancelled
                yield futures[future], exc
            finally:
                future.release()


def progress_printer(total: int) -> Callable[[RepoResult], None] | None:
    """A callback drawing `n/total repositories` on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    done = [0]

    def draw(row: RepoResult) -> None:
        done[0] += 1
        end = "\n" if done[0] == total else ""
        name = for_terminal(os.path.basename(row.path))
        sys.stderr.write(f"\raibom: {done[0]}/{total} repositories ({row.status}: {name})")
        sys.stderr.write("\x1b[K" + end)
        sys.stderr.flush()

    return draw
