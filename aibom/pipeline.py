"""One scan: walk -> sniff -> scan -> hash -> inventory -> link. Formats and BOMs live elsewhere."""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any, TypeVar

from . import readdeps
from .bom.fragments import FragmentCache
from .datasets.group import group_datasets
from .deps.model import merge_dependency
from .deps.resolve import resolve_dependencies
from .hashcache import HashCache, default_cache_dir
from .hashing import FileChanged, Hasher
from .inventory import Artifact, Category, Finding, Inventory, Kind, Severity
from .link import link
from .progress import Progress
from .scancache import Cached, ScanCache
from .scanners import ScanOutput, identify
from .sniff import Key, Probe, ReadError, key_of
from .walk import FileEntry, display_path, walk

_T = TypeVar("_T")
_R = TypeVar("_R")
#: Files scanned per worker-thread task (a task per file spent more on futures and locks than on small files).
BATCH = 32


@dataclass
class ScanOptions:
    excludes: tuple[str, ...] = ()
    use_cache: bool = True
    cache_dir: Path | None = None
    jobs: int | None = None
    #: worker processes that hash files of 64 MiB and more (default: one per core, at most `jobs`; 0: none)
    processes: int | None = None
    pythons: tuple[str, ...] = ()  # interpreters whose installed packages resolve dependencies
    online: bool = False  # enrich missing licenses from the package index and the model hub
    progress: Progress = field(default_factory=lambda: Progress(enabled=False))


@dataclass
class FileResult:
    fmt: str | None
    out: ScanOutput
    hashed_files: int = 0
    hashed_bytes: int = 0
    cache_hits: int = 0
    #: large files left to hash (by `FileProcessor.finish`, off the file pipeline), and what caching the
    #: result then needs: (artifacts, scan-cache key, recorded reads, cacheable so far, files hashed);
    #: None once finished
    later: tuple[list[Artifact], Key, Any, bool, int] | None = None


def _unreadable(location: str | None, message: str, component: str | None = None) -> Finding:
    """A file the pipeline itself could not read (scanners report their own parse failures)."""
    return Finding(
        rule="unreadable-file",
        category=Category.UNREADABLE,
        severity=Severity.ERROR,
        message=message,
        location=location,
        component=component,
        remediation="Make the file readable by the scanning user, or exclude it explicitly.",
    )


class FileProcessor:
    """Everything done to one file, run in a worker thread."""

    def __init__(self, root: str, hasher: Hasher, progress: Progress, scans: ScanCache | None = None) -> None:
        self.root = root
        self.hasher = hasher
        self.progress = progress
        self.scans = scans

    def __call__(self, entry: FileEntry) -> FileResult:
        try:
            return self._process(entry)
        finally:
            self.progress.file_done()

    def batch(self, entries: list[FileEntry]) -> list[FileResult]:
        """Several files, in order, as one task: a task per file cost the scan more in futures, locks and
        queue hand-offs than most small files' own work."""
        return [self(entry) for entry in entries]

    def _process(self, entry: FileEntry) -> FileResult:
        out = ScanOutput()
        try:
            probe, st = Probe.from_file(entry.relpath, entry.path, self.root)
        except ReadError as exc:
            out.findings.append(_unreadable(entry.relpath, f"cannot read file: {exc}"))
            return FileResult(None, out)
        try:
            scanner, fmt = identify(probe)
        except Exception as exc:  # identify must not raise; if one does, the file is still reported
            out.findings.append(
                _unreadable(
                    entry.relpath,
                    f"cannot read file: aibom could not identify it ({type(exc).__name__}); please report",
                )
            )
            return FileResult(None, out)
        cacheable = True
        with readdeps.recording() as deps:
            try:
                scanner.scan(probe, fmt, out)
            except ReadError as exc:
                out = ScanOutput()
                out.unreadable(probe, fmt, f"read failed: {exc}")
                cacheable = False  # a failed read may succeed next time
            except Exception as exc:  # a scanner bug must not lose the rest of the scan
                out = ScanOutput()
                out.unreadable(probe, fmt, f"aibom could not analyse it ({type(exc).__name__}: {exc}); please report")
        result = FileResult(fmt, out)
        hashed = 0
        later: list[Artifact] = []
        for artifact in out.artifacts:
            if artifact.content_path and not artifact.sha256:
                findings = len(result.out.findings)
                hashed += 1
                if probe.complete and artifact.content_path == probe.path:  # the probe read it all: no reread
                    artifact.sha256 = hashlib.sha256(probe.head).hexdigest()
                    result.hashed_files += 1
                    result.hashed_bytes += probe.size
                    self.progress.add_bytes(probe.size)
                elif self.hasher.offloads(artifact.size or 0):
                    later.append(artifact)  # hashed by a worker process while the pipeline goes on
                    continue
                else:
                    self._hash(artifact, result)
                cacheable = cacheable and artifact.sha256 is not None and len(result.out.findings) == findings
        result.later = (later, key_of(st), deps, cacheable, hashed)
        return result if later else self.finish(entry.relpath, result)

    def finish(self, relpath: str, result: FileResult) -> FileResult:
        """Hash the large files `_process` left for later (if any), then cache the file's result."""
        assert result.later is not None
        later, key, deps, cacheable, hashed = result.later
        for artifact in later:
            findings = len(result.out.findings)
            self._hash(artifact, result)
            cacheable = cacheable and artifact.sha256 is not None and len(result.out.findings) == findings
        if self.scans is not None and cacheable:
            self.scans.put(relpath, key, Cached(result.fmt, result.out, hashed), deps)
        result.later = None
        return result

    def _hash(self, artifact: Artifact, result: FileResult) -> None:
        for _attempt in range(2):
            try:
                artifact.sha256, hit = self.hasher.hash(artifact.content_path or "")
            except FileChanged:
                continue
            except ReadError as exc:
                result.out.findings.append(_unreadable(artifact.location, f"cannot hash file: {exc}", artifact.ref))
                return
            if hit:
                result.cache_hits += 1
            else:
                result.hashed_files += 1
                result.hashed_bytes += artifact.size or 0
            return
        result.out.findings.append(
            Finding(
                rule="file-changed-during-scan",
                category=Category.INTEGRITY,
                severity=Severity.ERROR,
                message="file kept changing while it was hashed; no hash recorded",
                location=artifact.location,
                component=artifact.ref,
                remediation="Scan a tree that is not being written to.",
            )
        )


def _count_hashes(inv: Inventory, result: FileResult) -> None:
    inv.stats.hashed_files += result.hashed_files
    inv.stats.hashed_bytes += result.hashed_bytes
    inv.stats.cache_hits += result.cache_hits


def _merge(into: dict[str, Artifact], artifact: Artifact) -> None:
    """Same ref seen twice (a library declared in two files): one artifact, all its evidence."""
    existing = into.get(artifact.ref)
    if existing is None:
        into[artifact.ref] = artifact
        return
    if existing.kind is Kind.LIBRARY and artifact.kind is Kind.LIBRARY:
        merge_dependency(existing, artifact)
        return
    for ev in artifact.evidence:
        if ev not in existing.evidence:
            existing.evidence.append(ev)
    for key, value in artifact.properties.items():
        existing.properties.setdefault(key, value)


def scan_tree(root: Path, options: ScanOptions | None = None) -> Inventory:
    """Scan `root` into an inventory. Raises FileNotFoundError/NotADirectoryError for a bad root."""
    options = options or ScanOptions()
    root_real = os.path.realpath(root)
    walked = walk(Path(root_real), options.excludes)
    inv = Inventory(
        root_name=display_path(os.path.basename(root_real) or root_real),  # a folder name need not be UTF-8
        skipped=walked.skipped,
        environments=walked.environments,
    )
    cache = HashCache((options.cache_dir or default_cache_dir()) if options.use_cache else None)
    if cache.warning:
        inv.warnings.append(cache.warning)
    progress = options.progress
    progress.start(len(walked.files))
    scans = ScanCache((options.cache_dir or default_cache_dir()), root_real) if options.use_cache else None
    if scans is not None and scans.warning:
        inv.warnings.append(scans.warning)
    jobs = options.jobs or min(32, (os.cpu_count() or 1) * 2)
    processes = min(jobs, os.cpu_count() or 1) if options.processes is None else options.processes
    hasher = Hasher(cache, progress.add_bytes, processes=processes)
    processor = FileProcessor(root_real, hasher, progress, scans)
    artifacts: dict[str, Artifact] = {}
    try:
        results = _from_cache(scans, walked.files, progress)
        misses = [entry for entry, result in zip(walked.files, results, strict=True) if result is None]
        deferred: list[tuple[FileResult, int, Future[FileResult]]] = []
        with (
            ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="aibom") as pool,
            ThreadPoolExecutor(max_workers=max(1, processes), thread_name_prefix="aibom-hash") as later,
            closing(ordered_map(pool, processor.batch, _chunks(misses, BATCH), ahead=jobs * 2)) as batches,
        ):
            scanned = chain.from_iterable(batches)  # closing the batches stops the rest after an error
            try:
                formats, findings, license_files = inv.stats.formats, inv.findings, inv.license_files
                for entry, cached in zip(walked.files, results, strict=True):  # per file: the least work
                    result = cached if cached is not None else next(scanned)
                    if fmt := result.fmt:
                        formats[fmt] = formats.get(fmt, 0) + 1
                    out = result.out
                    for artifact in out.artifacts:
                        _merge(artifacts, artifact)
                    if out.findings:
                        findings.extend(out.findings)
                    if out.license_files:
                        license_files.extend(out.license_files)
                    if result.later is None:
                        if result.hashed_files or result.cache_hits:
                            _count_hashes(inv, result)
                    else:  # a large file: its hash comes later, and the files after it need not wait
                        finishing = later.submit(processor.finish, entry.relpath, result)
                        deferred.append((result, len(result.out.findings), finishing))
                inv.stats.files += len(walked.files)
                inv.stats.bytes += sum(entry.size for entry in walked.files)
                inv.stats.scans_cached += len(results) - len(misses)
                for result, seen, finishing in deferred:
                    finishing.result()
                    inv.findings.extend(result.out.findings[seen:])  # what hashing it found
                    _count_hashes(inv, result)
            except BaseException:  # Ctrl-C or an error: stop the hashing workers before the pools wait
                hasher.close(abort=True)  # for their threads, which may be waiting on one mid-way through a file
                raise
    finally:
        hasher.close()
        progress.finish()
        cache.close()
        if scans is not None:
            scans.close()
    for warning in (cache.warning, scans.warning if scans is not None else None):
        if warning and warning not in inv.warnings:
            inv.warnings.append(warning)
    inv.artifacts = list(artifacts.values())
    resolve_dependencies(inv, root_real, options.pythons)
    group_datasets(inv)
    if options.online:
        from .online import enrich  # requests is imported only when asked to go online

        enrich(inv, (options.cache_dir or default_cache_dir()) if options.use_cache else None)
    link(inv)
    inv.findings = list({_finding_key(f): f for f in inv.findings}.values())  # an included file is read twice
    return inv


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ordered_map(pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: Iterable[_T], ahead: int) -> Iterator[_R]:
    """`pool.map(fn, items)` with at most `ahead` calls submitted and not yet consumed. `pool.map` submits
    every item at once, and a future costs about 1.5 KiB: 70,000 files held 100 MB of them."""
    if ahead < 1:
        raise ValueError("ahead must be at least 1")
    todo = iter(items)
    pending: deque[Future[_R]] = deque(pool.submit(fn, item) for item in islice(todo, ahead))
    try:
        while pending:
            done = pending.popleft()
            for item in todo:  # one more in for each one out
                pending.append(pool.submit(fn, item))
                break
            yield done.result()
    finally:
        for future in pending:  # the consumer stopped early (an error): do not run the rest
            future.cancel()


@contextmanager
def fragment_cache(root: Path, options: ScanOptions, fmt: str = "cyclonedx-json") -> Iterator[FragmentCache | None]:
    """The BOM fragment cache of `root` (CycloneDX JSON components of earlier runs), closed on exit;
    None when caching is off or the format is not CycloneDX JSON."""
    if not options.use_cache or fmt != "cyclonedx-json":
        yield None
        return
    fragments = FragmentCache(options.cache_dir or default_cache_dir(), os.path.realpath(root))
    try:
        yield fragments
    finally:
        fragments.close()


def _from_cache(scans: ScanCache | None, files: list[FileEntry], progress: Progress) -> list[FileResult | None]:
    """The cached result of each unchanged file (its artifacts' hashes count as answered from cache);
    None for the files to scan. Files with the same cached record share one result."""
    if scans is None:
        return [None] * len(files)
    made: dict[int, FileResult] = {}
    results: list[FileResult | None] = []
    for cached in scans.lookup_all(files):
        if cached is None:
            results.append(None)
            continue
        result = made.get(id(cached))  # `cached` stays alive in the list lookup_all returned
        if result is None:
            result = made[id(cached)] = FileResult(cached.fmt, cached.out, cache_hits=cached.hashed)
        results.append(result)
    progress.files_done(len(results) - results.count(None))
    return results


def _finding_key(f: Finding) -> tuple[object, ...]:
    return (f.rule, f.category, f.severity, f.message, f.location, f.component, f.offset)
