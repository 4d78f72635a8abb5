"""What a Hugging Face `pipeline_tag` says about a model's inputs and outputs (CycloneDX `format`s)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_TABLE = Path(__file__).with_name("pipeline_tags.json")


@cache
def _table() -> dict[str, list[list[str]]]:
    with _TABLE.open(encoding="utf-8") as fh:
        return json.load(fh)["tags"]


def task_io(task: str | None) -> tuple[list[str], list[str]]:
    """(input formats, output formats) for a pipeline tag; empty lists when the tag is not known."""
    if not task or task not in _table():
        return [], []
    inputs, outputs = _table()[task]
    return list(inputs), list(outputs)
