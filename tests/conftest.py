"""Shared test helpers: an isolated hash cache per test and a way to run the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
#: What a fresh checkout does not have (tool state, and the git-ignored benchmark output and peers' venv,
#: which can be many GB: a copy would fill the disk of a developer who ran the benchmarks).
CHECKOUT_IGNORED = (".git", ".venv", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
                    "build", "dist")  # fmt: skip


def copy_checkout(dst: Path) -> None:
    """Copy this checkout's working tree as a fresh clone would have it, with uncommitted changes:
    the files git tracks or would track (`--exclude-standard`), or, outside git, all but CHECKOUT_IGNORED."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=False, timeout=60,
    ) if (REPO / ".git").exists() and shutil.which("git") else None  # fmt: skip
    if listed is None or listed.returncode != 0:
        skip_bench = shutil.ignore_patterns(*CHECKOUT_IGNORED)

        def ignore(folder: str, names: list[str]) -> set[str]:
            skipped = set(skip_bench(folder, names))
            if Path(folder) == REPO / "bench":
                skipped |= {"out", ".peers-venv"} & set(names)
            return skipped

        shutil.copytree(REPO, dst, ignore=ignore)
        return
    for rel in sorted({os.fsdecode(p) for p in listed.stdout.split(b"\0") if p}):
        source, target = REPO / rel, dst / rel
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the working tree but not yet from the index
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)  # modes (.ci/run) and links as they are


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own hash cache folder, so tests never see each other's cache."""
    folder = tmp_path_factory.mktemp("aibom-cache")
    monkeypatch.setenv("AIBOM_CACHE_DIR", str(folder))
    return folder


def run_aibom(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m aibom ARGS` as a user would, capturing text output."""

    full_env = dict(os.environ)
    full_env.pop("SOURCE_DATE_EPOCH", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "aibom", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def scan_json(path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Scan `path` with the CLI and return the CycloneDX JSON document (asserting exit 0)."""
    proc = run_aibom("scan", str(path), "-q", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def component_at(bom: dict[str, Any], location: str) -> dict[str, Any]:
    """The component whose first evidence occurrence is `location`."""
    for comp in bom.get("components", []):
        occ = comp.get("evidence", {}).get("occurrences", [])
        if occ and occ[0]["location"] == location:
            return comp
    raise AssertionError(f"no component at {location}; have {[c.get('bom-ref') for c in bom.get('components', [])]}")


def prop(obj: dict[str, Any], name: str) -> str | None:
    """The value of property `name` on a component or modelCard, or None."""
    for p in obj.get("properties", []):
        if p["name"] == name:
            return p["value"]
    return None


def findings_of(bom: dict[str, Any]) -> list[dict[str, Any]]:
    """Every `aibom:finding` recorded in the BOM (metadata and components), parsed."""
    out = [
        json.loads(p["value"]) for p in bom.get("metadata", {}).get("properties", []) if p["name"] == "aibom:finding"
    ]
    for comp in bom.get("components", []):
        out += [json.loads(p["value"]) for p in comp.get("properties", []) if p["name"] == "aibom:finding"]
    return out
