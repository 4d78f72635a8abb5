"""Shared test helpers: an isolated hash cache per test and a way to run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


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
