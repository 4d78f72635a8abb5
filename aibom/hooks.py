"""Entry points for the pre-commit hooks that need more than one `aibom` command.

`python -m aibom.hooks bom` keeps a committed CycloneDX BOM up to date, like a formatter: it regenerates the
BOM and fails (exit 1) only when the file changed. The BOM's timestamp (and so its content-derived serial
number) is reused from the existing file when nothing else changed, so an unchanged project never rewrites it.
A new or changed BOM gets SOURCE_DATE_EPOCH when set, else the time of the last commit, else now.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import click

from . import cli_options as opt
from .bom.cdx_basics import SPEC_VERSION_NAMES, InvalidBom, build_timestamp, epoch_timestamp
from .bom.formats import render
from .output import write_atomic
from .pipeline import ScanOptions, fragment_cache, scan_tree
from .policy import engine as policy_engine

MAX_BOM_BYTES = 512 * 1024 * 1024  # an existing BOM bigger than this is not read; it is regenerated
_EXIT_USAGE = 2


def _existing(path: Path) -> tuple[str | None, dict | None]:
    """The committed BOM's text and parsed JSON, or None for either when missing, too big or not JSON."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_BOM_BYTES:
            return None, None
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a nesting bomb
        return text, None
    return text, doc if isinstance(doc, dict) else None


def _timestamp_of(doc: dict | None) -> int | None:
    """metadata.timestamp of a CycloneDX document as a Unix time, if it has a usable one."""
    meta = doc.get("metadata") if doc else None
    stamp = meta.get("timestamp") if isinstance(meta, dict) else None
    if not isinstance(stamp, str) or len(stamp) > 64:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp())


def _last_commit_time(root: Path) -> int | None:
    """The committer time of HEAD, or None outside a git repository or before the first commit."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return int(value) if done.returncode == 0 and value.isdigit() else None


def _timestamp(epoch: int | None) -> datetime:
    """The BOM's timestamp: `epoch`, or the caller's SOURCE_DATE_EPOCH or now when there is none."""
    return epoch_timestamp(str(epoch)) if epoch is not None else build_timestamp()


def _new_epoch(root: Path) -> int | None:
    """SOURCE_DATE_EPOCH when the caller set it (the writer reads it), else the last commit, else now (None)."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return None
    return _last_commit_time(root)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """aibom's pre-commit hook helpers."""


@main.command()
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=Path("bom.cdx.json"),
    show_default=True, help="The committed CycloneDX JSON BOM, relative to the project root.",
)  # fmt: skip
@opt.spec_version(default=None, show_default=False, help="CycloneDX version (default: the existing BOM's, else 1.6).")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=Path("."))
def bom(output: Path, spec_version: str | None, root: Path) -> None:
    """Regenerate the committed BOM; exit 1 when it changed (review it and `git add` it), 0 when current."""
    target = output if output.is_absolute() else root / output
    try:
        rel = target.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = None
    old_text, old_doc = _existing(target)
    if spec_version is None:
        found = old_doc.get("specVersion") if old_doc else None
        spec_version = found if isinstance(found, str) and found in SPEC_VERSION_NAMES else "1.6"
    # The BOM does not describe itself: its own size would change it on every run.
    excludes = (f"/{rel}",) if rel else ()
    try:
        options = ScanOptions(excludes=excludes)
        inv = scan_tree(root, options)
        # Whether the BOM exists yet must not change it: drop the walk's note that it was excluded.
        inv.skipped = [skip for skip in inv.skipped if skip.path != rel]
        policy_engine.openness(inv)
        old_epoch = _timestamp_of(old_doc)
        with fragment_cache(root, options) as fragments:
            comparable = old_text is not None and old_epoch is not None
            if comparable and render(inv, "cyclonedx-json", spec_version, fragments, _timestamp(old_epoch)) == old_text:
                return
            text = render(inv, "cyclonedx-json", spec_version, fragments, _timestamp(_new_epoch(root)))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, [text])
    except (OSError, ValueError) as exc:
        click.echo(f"aibom-bom: cannot update {output}: {exc}", err=True)
        sys.exit(_EXIT_USAGE)
    except InvalidBom as exc:
        click.echo(f"aibom-bom: internal error: {exc}", err=True)
        sys.exit(3)
    what = "written" if old_text is None else "updated"
    click.echo(f"aibom-bom: {output} {what}; review it and `git add {output}`.", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
