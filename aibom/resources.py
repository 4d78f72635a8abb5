"""Locate the data files aibom ships (`licenses/`, `schemas/`), installed or in a source checkout."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The installed copy (`aibom/_data/NAME`) or, from a checkout, the top-level folder."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"aibom data folder {name!r} is missing from this installation")


@cache
def load_json(folder: str, filename: str) -> Any:
    with (data_dir(folder) / filename).open(encoding="utf-8") as fh:
        return json.load(fh)
