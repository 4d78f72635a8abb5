"""Release-side commands: `aibom validate`, `aibom diff` and `aibom merge` (registered by aibom.cli)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .bom.docs import Unreadable, load
from .output import write_atomic
from .textsafe import for_terminal

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def _fail(message: str, code: int = EXIT_UNREADABLE) -> None:
    click.echo(for_terminal(f"aibom: error: {message}"), err=True)
    sys.exit(code)


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--max-errors", type=click.IntRange(1, 10_000), default=50, show_default=True, help="Errors listed.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def validate(file: Path, max_errors: int, fmt: str) -> None:
    """Validate a CycloneDX (1.2-1.7, JSON or XML) or SPDX (2.3 JSON, 3.0.1 JSON-LD) document offline.

    The format is detected from the content. Each error is printed with where it is (JSON pointer, XML
    line or SPDX id) and what is wrong.

    Exit status: 0 valid, 1 invalid, 2 unreadable or not a known format.
    """
    from .bom.doc_validate import errors_of

    try:
        doc = load(file)
    except Unreadable as exc:
        _fail(f"{file}: {exc}")
        return
    errors = errors_of(doc, max_errors + 1)
    shown = errors[:max_errors]
    if fmt == "json":
        report = {
            "file": str(file),
            "format": doc.label,
            "valid": not errors,
            "errors": [{"path": where, "message": message} for where, message in shown],
            "truncated": len(errors) > max_errors,
        }
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    elif not errors:
        click.echo(for_terminal(f"{file}: valid {doc.label}"))
    else:
        more = "+" if len(errors) > max_errors else ""
        click.echo(for_terminal(f"{file}: invalid {doc.label}: {len(shown)}{more} error(s)"))
        for where, message in shown:
            click.echo(for_terminal(f"  {where}: {message}"))
        if more:
            click.echo(f"  ... more errors not shown (--max-errors {max_errors})")
    sys.exit(EXIT_INVALID if errors else 0)


def _load_view(path: Path):  # type: ignore[no-untyped-def]
    from .bom.bom_view import view

    try:
        doc = load(path)
        return view(doc)
    except (Unreadable, ValueError) as exc:
        _fail(f"{path}: {exc}")


@click.command()
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(("text", "json", "markdown")), default="text", show_default=True)
@click.option(
    "--fail-on-new", type=click.Choice(("error", "warning", "never")), default="never", show_default=True,
    help="Exit 1 when NEW has a finding of this severity (or worse) that OLD did not have.",
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout).")
def diff(old: Path, new: Path, fmt: str, fail_on_new: str, output: Path | None) -> None:
    """Compare two CycloneDX BOMs (JSON or XML): components, lineage and findings.

    Components are matched by bom-ref, then purl, then evidence location. Changes reported: hash,
    version, license and openness level; pedigree ancestors and dependency edges; new and resolved
    aibom findings. Markdown output suits a release note or a pull-request comment.

    Exit status: 0, or 1 when --fail-on-new is met, 2 when a BOM cannot be read.
    """
    from .bom import diff as bom_diff

    result = bom_diff.diff(_load_view(old), _load_view(new))
    render = {"text": bom_diff.as_text, "json": bom_diff.as_json, "markdown": bom_diff.as_markdown}[fmt]
    text = render(result)
    if output is not None:
        try:
            write_atomic(output, [text])
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
    else:
        if fmt == "text":  # names come from the scanned tree: no control characters on a terminal
            text = "".join(for_terminal(line) + "\n" for line in text.splitlines())
        click.echo(text, nl=False)
    threshold = bom_diff.SEVERITY_RANK.get(fail_on_new)
    sys.exit(1 if threshold is not None and result.worst_new() >= threshold else 0)


@click.command()
@click.argument("boms", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Merged BOM.")
@click.option(
    "--spec-version", type=click.Choice(("1.5", "1.6", "1.7")),
    help="CycloneDX version of the result (default: the newest of the inputs, at least 1.5).",
)  # fmt: skip
def merge(boms: tuple[Path, ...], output: Path, spec_version: str | None) -> None:
    """Merge CycloneDX JSON BOMs (e.g. aibom's with a container SBOM) into one, without duplicates.

    The first BOM's subject stays the subject. Components with the same purl, or the same SHA-256 and
    name, are kept once; bom-refs are rewritten consistently and dependencies kept. The result is
    validated against the CycloneDX schema before it is written (atomically).

    Exit status: 0 written, 1 the merged BOM would be invalid, 2 an input cannot be read.
    """
    from cyclonedx.schema import SchemaVersion

    from .bom.merge import merge as merge_boms
    from .bom.validate import json_error_list

    if len(boms) < 2:
        _fail("merge needs at least two BOMs")
    docs = []
    for path in boms:
        try:
            doc = load(path)
        except Unreadable as exc:
            _fail(f"{path}: {exc}")
            return
        if doc.kind != "cyclonedx" or doc.syntax != "json":
            _fail(f"{path}: {doc.label} cannot be merged (CycloneDX JSON only)")
        docs.append(doc)
    version = spec_version or max(["1.5", *(d.version for d in docs)], key=lambda v: tuple(map(int, v.split("."))))
    merged, notes = merge_boms([d.data for d in docs], version)
    errors = json_error_list(merged, SchemaVersion.from_version(version), 10)
    if errors:
        click.echo(f"aibom: error: the merged BOM is not valid CycloneDX {version}:", err=True)
        for where, message in errors:
            click.echo(for_terminal(f"  {where}: {message}"), err=True)
        sys.exit(EXIT_INVALID)
    try:
        write_atomic(output, [json.dumps(merged, indent=2, ensure_ascii=False) + "\n"])
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    for note in notes:
        click.echo(for_terminal(f"aibom: {note}"), err=True)
    click.echo(f"aibom: {len(boms)} BOMs merged into {output}", err=True)
