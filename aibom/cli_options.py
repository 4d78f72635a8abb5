"""Command-line options shared by several aibom commands, defined once so their names, types and help agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .bom.cdx_basics import SPEC_VERSION_NAMES

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: `--no-cache`: scan, check, report, scan-many.
no_cache = click.option("--no-cache", is_flag=True, help="Hash every file again instead of using the hash cache.")

#: `--no-policy`: check and report.
no_policy = click.option(
    "--no-policy", is_flag=True, help="Ignore the folder's aibom.toml / [tool.aibom]; use the defaults."
)


def spec_version(**kwargs: object) -> Decorator:
    """`--spec-version` (CycloneDX 1.6 or 1.7); 1.6 by default unless `kwargs` say otherwise."""
    settings: dict[str, object] = {
        "default": "1.6",
        "show_default": True,
        "help": "CycloneDX specification version (SPDX formats are 2.3 and 3.0.1).",
    }
    return click.option("--spec-version", type=click.Choice(sorted(SPEC_VERSION_NAMES)), **(settings | kwargs))


def excludes(help: str) -> Decorator:
    """`--exclude GLOB`, repeatable, collected as `excludes`."""
    return click.option("--exclude", "excludes", multiple=True, metavar="GLOB", help=help)


def pythons(help: str) -> Decorator:
    """`--python PATH`, repeatable, collected as `pythons`."""
    return click.option("--python", "pythons", multiple=True, metavar="PATH", help=help)


def fail_on(help: str) -> Decorator:
    """`--fail-on error|warning|never`, error by default."""
    return click.option(
        "--fail-on", type=click.Choice(["error", "warning", "never"]), default="error", show_default=True, help=help
    )


def policy_file(help: str = "Policy file (TOML or YAML).", exists: bool = False) -> Decorator:
    """`--policy FILE`, collected as `policy_file`."""
    return click.option(
        "--policy", "policy_file", type=click.Path(path_type=Path, dir_okay=False, exists=exists), help=help
    )
