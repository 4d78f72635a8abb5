"""`aibom scan-many`: many repositories, one BOM each, in local processes or on a Dask cluster."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import click

from . import cli_options as opt
from .bom.formats import FORMATS
from .fleet import ENGINES, INDEX, FleetError, RepoResult, progress_printer, scan_many
from .textsafe import for_terminal

EXIT_USAGE = 2
EXIT_CHECK = 1
EXIT_REPO_FAILED = 4
MAX_LIST_LINES = 100_000  # paths read from --from-file
MAX_PROBE = 10_000  # entries looked at to decide whether a sub-folder holds any file


def _fail(message: str) -> None:
    click.echo(for_terminal(f"aibom: error: {message}"), err=True)
    sys.exit(EXIT_USAGE)


def _has_files(folder: str) -> bool:
    """True when `folder` holds a regular file somewhere below it (symlinks not followed, bounded)."""
    stack, seen = [folder], 0
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    seen += 1
                    if seen > MAX_PROBE or entry.is_file(follow_symlinks=False):
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return False


def projects_in(folder: Path) -> list[str]:
    """Every immediate, non-hidden, non-symlink sub-folder of `folder` that holds a file, sorted by name."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        _fail(f"--projects-in {folder}: {exc.strerror or exc}")
        return []
    return [
        e.path for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False) and _has_files(e.path)
    ]


def read_list(source: str) -> list[str]:
    """Paths from a list file (or `-` for stdin): one a line; blank lines and `#` comments ignored."""
    try:
        if source == "-":
            lines: Iterable[str] = sys.stdin
        else:
            lines = open(source, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115 (closed below)
        paths = []
        for n, line in enumerate(lines):
            if n >= MAX_LIST_LINES:
                _fail(f"--from-file {source}: more than {MAX_LIST_LINES} lines")
            text = line.strip()
            if text and not text.startswith("#"):
                paths.append(text)
        if source != "-":
            lines.close()  # type: ignore[attr-defined]
        return paths
    except OSError as exc:
        _fail(f"--from-file {source}: {exc.strerror or exc}")
        return []


def _summary(rows: list[RepoResult], seconds: float, out_dir: Path, checked: bool, fail_on: str) -> str:
    ok = sum(1 for r in rows if r.status == "ok")
    text = f"aibom: {len(rows)} repositories: {ok} scanned, {len(rows) - ok} failed"
    if checked:
        text += f"; {sum(1 for r in rows if r.check_failed)} failed the check (--fail-on {fail_on})"
    return f"{text}; {seconds:.1f} s; index written to {out_dir / INDEX}"


@click.command("scan-many")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--projects-in", "project_dirs", multiple=True, type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
    help="Scan every non-hidden sub-folder of DIR that holds files (repeatable).",
)  # fmt: skip
@click.option(
    "--from-file", "lists", multiple=True, metavar="LIST",
    help="Read paths from LIST, one a line, '#' comments, relative to the current folder ('-' = stdin).",
)  # fmt: skip
@click.option(
    "-o", "--output-dir", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the BOMs, findings and index.json (created if missing).",
)  # fmt: skip
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True, help="Where tasks run.")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Local engine: repos in parallel (default: cores).")
@click.option("--scheduler", metavar="ADDRESS", help="Dask engine: the scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="cyclonedx-json", show_default=True)
@opt.spec_version()
@opt.excludes("Skip paths matching GLOB in every repo.")
@click.option("--check", is_flag=True, help="Also run the policy check; findings JSON next to each BOM.")
@opt.policy_file("One policy file for every repository (default: each repository's own aibom.toml).", exists=True)
@opt.fail_on("With --check: exit 1 when a repository has a finding of this severity.")
@opt.no_cache
@click.option("-q", "--quiet", is_flag=True, help="No summary line on stderr.")
def scan_many_command(
    paths: tuple[str, ...],
    project_dirs: tuple[Path, ...],
    lists: tuple[str, ...],
    out_dir: Path,
    engine: str,
    jobs: int | None,
    scheduler: str | None,
    fmt: str,
    spec_version: str,
    excludes: tuple[str, ...],
    check: bool,
    policy_file: Path | None,
    fail_on: str,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Scan many repositories, each into its own BOM in OUT_DIR, plus OUT_DIR/index.json.

    Repositories are PATHS, the sub-folders of each --projects-in DIR, and the lines of each --from-file
    LIST. A repository that cannot be scanned is an `error` row in index.json; the others go on.

    With --engine dask, each repository is one task on an existing Dask cluster: the paths must be
    visible to the workers under the same absolute path (a shared filesystem); BOMs come back to this
    process and are written here.

    Exit status: 0 all scanned, 1 a --check reached --fail-on, 4 some repositories failed, 2 usage errors.

    \b
    Examples:
      aibom scan-many --projects-in ~/src -o boms/ --check
      aibom scan-many --from-file repos.txt -o boms/ --engine dask --scheduler tcp://10.0.0.5:8786
    """
    if engine == "dask" and not scheduler:
        _fail("--engine dask needs --scheduler ADDRESS (a running dask scheduler)")
    if engine == "local" and scheduler:
        _fail("--scheduler is for --engine dask")
    if engine == "dask" and jobs:
        _fail("--jobs is for --engine local (a Dask cluster runs as many tasks as it has worker threads)")
    repos = list(paths)
    for folder in project_dirs:
        repos += projects_in(folder)
    for source in lists:
        repos += read_list(source)
    if not repos:
        _fail("no repositories to scan (give PATHS, --projects-in DIR or --from-file LIST)")
    if out_dir.exists() and not out_dir.is_dir():
        _fail(f"{out_dir} is not a folder")
    if policy_file is not None:
        from .policy.config import PolicyError
        from .policy.config import load as load_policy

        try:
            load_policy(policy_file)
        except PolicyError as exc:
            _fail(str(exc))
    options = {
        "format": fmt,
        "spec_version": spec_version,
        "excludes": list(excludes),
        "use_cache": not no_cache,
        "check": check,
        "fail_on": fail_on,
        "policy": str(policy_file) if policy_file else None,
    }
    started = time.perf_counter()
    try:
        rows = scan_many(
            repos,
            out_dir,
            engine=engine,
            jobs=jobs,
            scheduler=scheduler,
            options=options,
            on_result=None if quiet else progress_printer(len(set(map(os.path.abspath, repos)))),
        )
    except FleetError as exc:
        _fail(str(exc))
        return
    except OSError as exc:
        _fail(f"cannot write to {out_dir}: {exc.strerror or exc}")
        return
    if not quiet:
        for row in rows:
            if row.status != "ok":
                click.echo(for_terminal(f"aibom: {row.path}: {row.error}"), err=True)
        click.echo(for_terminal(_summary(rows, time.perf_counter() - started, out_dir, check, fail_on)), err=True)
    if any(r.status != "ok" for r in rows):
        sys.exit(EXIT_REPO_FAILED)
    sys.exit(EXIT_CHECK if any(r.check_failed for r in rows) else 0)
