"""The `aibom` command line."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import ClassVar

import click

from . import __version__
from . import cli_options as opt
from .bom.cdx_basics import InvalidBom
from .bom.formats import FORMATS, render_chunks
from .deps.environment import PythonNotUsable
from .inventory import Inventory
from .output import write_atomic
from .pipeline import ScanOptions, fragment_cache, scan_tree
from .policy import engine as policy_engine
from .policy.config import PolicyConfig, PolicyError
from .progress import Progress
from .textsafe import for_terminal

EXIT_USAGE = 2
EXIT_BUG = 3


class UserError(click.ClickException):
    """A problem with what the user asked for: one line on stderr, exit 2, no traceback."""

    exit_code = EXIT_USAGE

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"aibom: error: {self.format_message()}", err=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _summary(inv: Inventory, destination: str) -> str:
    kinds = Counter(str(a.kind) for a in inv.artifacts)
    parts = ", ".join(_plural(kinds[k], k) for k in ("model", "dataset", "library", "file") if kinds[k])
    parts = parts.replace("librarys", "libraries")
    mib = inv.stats.bytes / (1 << 20)
    return (
        f"aibom: {_plural(inv.stats.files, 'file')} ({mib:.1f} MiB) scanned; "
        f"{_plural(len(inv.artifacts), 'component')}{f' ({parts})' if parts else ''}; "
        f"{_plural(len(inv.findings), 'finding')}; {len(inv.skipped)} skipped; "
        f"{_plural(inv.stats.hashed_files, 'file')} hashed, {inv.stats.cache_hits} from cache; "
        f"BOM written to {destination}"
    )


def _details(inv: Inventory) -> None:
    for skip in inv.skipped:
        detail = f" ({skip.detail})" if skip.detail else ""
        click.echo(for_terminal(f"aibom: skipped {skip.path}: {skip.reason}{detail}"), err=True)
    for f in inv.findings:
        where = f" {f.location}" if f.location else ""
        click.echo(for_terminal(f"aibom: {f.severity} [{f.category}]{where}: {f.message}"), err=True)
    stats = inv.stats
    if stats.components_rendered or stats.components_reused:
        click.echo(
            f"aibom: BOM components: {stats.components_rendered} rendered, {stats.components_reused} from cache",
            err=True,
        )


def _check_writable(output: Path) -> None:
    folder = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        raise UserError(f"cannot write {output}: it is a directory")
    if not folder.is_dir():
        raise UserError(f"cannot write {output}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write {output}: folder {folder} is not writable")


class _Commands(click.Group):
    """The group of aibom's commands; those defined in other modules load when they are run or listed,
    so `aibom scan` does not pay for importing release and fleet tooling."""

    #: command name -> the module that defines it, and the command's name there
    elsewhere: ClassVar[dict[str, tuple[str, str]]] = {
        "validate": ("aibom.release_cli", "validate"),
        "diff": ("aibom.release_cli", "diff"),
        "merge": ("aibom.release_cli", "merge"),
        "scan-many": ("aibom.fleet_cli", "scan_many_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.elsewhere})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.elsewhere:
            module, name = self.elsewhere[cmd_name]
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command) and command.name == cmd_name
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="aibom")
def main() -> None:
    """aibom: a bill of materials for AI projects.

    Inventories the models, datasets, dependencies and licenses a project ships and writes them as a
    CycloneDX ML-BOM. Model files are read from their headers only: nothing is loaded or executed.
    """


@main.command()
@click.argument("path", default=".", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the BOM here (default: stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="cyclonedx-json",
    show_default=True,
    help="Output format.",
)
@opt.spec_version()
@opt.excludes("Skip paths matching GLOB (gitignore syntax, repeatable); adds to the root's .aibomignore.")
@opt.pythons("Also read the installed packages (versions, licenses) of this Python interpreter (repeatable).")
@click.option(
    "--online", is_flag=True,
    help="Fill in missing licenses from the Python package index and the Hugging Face Hub (network).",
)  # fmt: skip
@opt.no_cache
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Files processed in parallel (default: 2 x cores).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="List every skipped path and finding on stderr.")
def scan(
    path: Path,
    output: Path | None,
    fmt: str,
    spec_version: str,
    excludes: tuple[str, ...],
    pythons: tuple[str, ...],
    online: bool,
    no_cache: bool,
    jobs: int | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Scan PATH (default: the current folder) and write a CycloneDX (or SPDX) BOM of it.

    Exit status: 0 when the BOM was written (findings do not fail a scan), 2 on usage or input errors.

    \b
    Examples:
      aibom scan . -o bom.cdx.json
      aibom scan models/ --format cyclonedx-xml --spec-version 1.7
      aibom scan . --exclude 'experiments/' --exclude '*.tmp'
      aibom scan . --format spdx-json -o bom.spdx.json
      aibom scan . --format spdx3-json -o bom.spdx3.jsonld
    """
    if not path.exists():
        raise UserError(for_terminal(f"path {path} does not exist"))
    if not path.is_dir():
        raise UserError(f"path {path} is not a folder")
    if output is not None and str(output) == "-":
        output = None  # `-o -` is stdout, as usual for command-line tools
    if output is not None:
        _check_writable(output)
    for python in pythons:
        if not os.path.isfile(python) or not os.access(python, os.X_OK):
            raise UserError(f"--python {python}: not an executable file")
    if quiet and verbose:
        raise UserError("-q/--quiet and -v/--verbose contradict each other; use one")
    progress = Progress(enabled=None if not quiet else False)
    options = ScanOptions(
        excludes=excludes, use_cache=not no_cache, jobs=jobs, progress=progress, pythons=pythons, online=online
    )
    try:
        inv = scan_tree(path, options)
        policy_engine.openness(inv)  # each model's openness level, recorded as a property
        with fragment_cache(path, options, fmt) as fragments:
            chunks = render_chunks(inv, fmt, spec_version, fragments)
        if fragments is not None and fragments.warning:
            inv.warnings.append(fragments.warning)
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise UserError(f"cannot scan {path}: {exc}") from None
    except (ValueError, PythonNotUsable) as exc:
        raise UserError(str(exc)) from None
    except InvalidBom as exc:
        click.echo(f"aibom: internal error: {exc}", err=True)
        sys.exit(EXIT_BUG)
    _emit(chunks, output)
    if verbose:
        _details(inv)
    for warning in inv.warnings:
        click.echo(f"aibom: warning: {warning}", err=True)
    if not quiet:
        click.echo(_summary(inv, str(output) if output else "stdout"), err=True)


def _emit(text: str | list[str], output: Path | None) -> None:
    """Write a BOM or report (its text, or the pieces of its text) to stdout, or atomically to `output`."""
    chunks = [text] if isinstance(text, str) else text
    if output is None:
        try:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away; nothing more to say
            os._exit(0)
        return
    try:
        write_atomic(output, chunks)
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror or exc}") from None


def _load_target(
    target: Path, policy_file: Path | None, no_policy: bool, options: ScanOptions, output: Path | None
) -> tuple[Inventory, PolicyConfig]:
    """What `check` and `report` look at: a folder scanned (with its own policy file unless told otherwise)
    or a CycloneDX BOM read back, and the policy to apply. Problems are one-line UserErrors."""
    from .bom.read import BomReadError, read_bom
    from .policy.config import discover
    from .policy.config import load as load_policy

    if not target.exists():
        raise UserError(for_terminal(f"path {target} does not exist"))
    if output is not None:
        _check_writable(output)
    if policy_file is None and not no_policy and target.is_dir():
        policy_file = discover(target)
    try:
        config = load_policy(policy_file) if policy_file else PolicyConfig()
    except PolicyError as exc:
        raise UserError(for_terminal(str(exc))) from None
    try:
        inv = scan_tree(target, options) if target.is_dir() else read_bom(target)
    except BomReadError as exc:
        raise UserError(for_terminal(str(exc))) from None
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise UserError(for_terminal(f"cannot check {target}: {exc}")) from None
    except (ValueError, PythonNotUsable) as exc:
        raise UserError(for_terminal(str(exc))) from None
    return inv, config


@main.command()
@click.argument("target", default=".", type=click.Path(path_type=Path))
@opt.policy_file()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
    help="Report format.",
)  # fmt: skip
@opt.fail_on("Exit 1 when a finding reaches this severity.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here.")
@opt.no_cache
@opt.no_policy
def check(
    target: Path, policy_file: Path | None, fmt: str, fail_on: str, output: Path | None, no_cache: bool, no_policy: bool
) -> None:
    """Check TARGET (a folder, scanned first, or a CycloneDX BOM file) against the policy.

    Exit status: 1 when a finding reaches --fail-on, 0 otherwise, 2 on usage or input errors.
    Without --policy, a checked folder's own aibom.toml or [tool.aibom] in its pyproject.toml is used.

    \b
    Examples:
      aibom check .
      aibom check bom.cdx.json --format sarif -o aibom.sarif
      aibom check . --policy aibom.toml --fail-on warning
    """
    from .report import findings_json, sarif, text

    inv, config = _load_target(target, policy_file, no_policy, ScanOptions(use_cache=not no_cache), output)
    result = policy_engine.check(inv, config)
    failed = policy_engine.fails(result, fail_on)
    if fmt == "json":
        report = findings_json.render(result, str(target), fail_on, failed, config.source)
    elif fmt == "sarif":
        report = sarif.render(result)
    else:
        report = text.render(
            result, str(target), failed, colour=output is None and text.use_colour(sys.stdout.isatty())
        )
    _emit(report, output)
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("target", default=".", type=click.Path(path_type=Path))
@click.option(
    "--html", "html_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this HTML file (one self-contained page).",
)  # fmt: skip
@opt.policy_file()
@opt.no_policy
@opt.excludes("Skip paths matching GLOB when scanning a folder (gitignore syntax, repeatable).")
@opt.pythons("Also read the installed packages of this Python interpreter when scanning a folder (repeatable).")
@opt.no_cache
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors on stderr.")
def report(
    target: Path,
    html_file: Path,
    policy_file: Path | None,
    no_policy: bool,
    excludes: tuple[str, ...],
    pythons: tuple[str, ...],
    no_cache: bool,
    quiet: bool,
) -> None:
    """Write an HTML report of TARGET (a folder, scanned first, or a CycloneDX BOM file).

    One self-contained page (no network fetches, no scripts, a strict Content-Security-Policy): summary,
    each model's openness level and what it lacks for the next one, licenses, the lineage graph, findings
    with their fixes, skipped files. Same input and SOURCE_DATE_EPOCH give a byte-identical page.

    Exit status: 0 when the report was written (findings do not fail it), 2 on usage or input errors.

    \b
    Examples:
      aibom report . --html aibom-report.html
      aibom report bom.cdx.json --html report.html --policy aibom.toml
    """
    from .bom.docs import Unreadable, load
    from .policy.context import Context
    from .report import html

    for python in pythons:
        if not os.path.isfile(python) or not os.access(python, os.X_OK):
            raise UserError(f"--python {python}: not an executable file")
    options = ScanOptions(excludes=excludes, use_cache=not no_cache, pythons=pythons)
    inv, config = _load_target(target, policy_file, no_policy, options, html_file)
    if target.is_dir():
        spec = "CycloneDX 1.6 (what `aibom scan` writes by default)"
    else:
        try:
            spec = load(target).label
        except Unreadable:
            spec = "CycloneDX"
    result = policy_engine.check(inv, config)
    try:
        page = html.render(inv, Context(inv, config), result, str(target), spec)
    except ValueError as exc:  # e.g. a malformed SOURCE_DATE_EPOCH
        raise UserError(for_terminal(str(exc))) from None
    _emit(page, html_file)
    for warning in inv.warnings:
        click.echo(for_terminal(f"aibom: warning: {warning}"), err=True)
    if not quiet:
        click.echo(for_terminal(f"aibom: report written to {html_file}"), err=True)


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (a cancelled CI job) unwinds like Ctrl-C, so a half-written temp file is removed."""
    raise KeyboardInterrupt


def run() -> None:
    """Entry point that turns Ctrl-C and SIGTERM into a clean exit."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("aibom: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line; AIBOM_DEBUG=1 shows the traceback
        if os.environ.get("AIBOM_DEBUG"):
            raise
        click.echo(
            f"aibom: internal error: {type(exc).__name__}: {exc} (please report; AIBOM_DEBUG=1 for details)", err=True
        )
        sys.exit(EXIT_BUG)
