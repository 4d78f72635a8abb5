"""Scan in the test process (no interpreter start-up per scan) and return the validated CycloneDX JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aibom.bom.formats import render
from aibom.pipeline import ScanOptions, scan_tree


def scan_bom(path: Path) -> dict[str, Any]:
    """What `aibom scan PATH` writes, produced in-process (the CLI itself is tested elsewhere)."""
    return json.loads(render(scan_tree(path, ScanOptions(use_cache=False, jobs=4))))
