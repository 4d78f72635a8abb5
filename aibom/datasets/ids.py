"""Dataset ids from folder names, so model cards' `datasets: [id]` can find local datasets."""

from __future__ import annotations

import re

_CACHE = re.compile(r"^datasets--([A-Za-z0-9][\w.-]*)--([A-Za-z0-9][\w.-]*)$")


def hub_cache_id(path: str) -> str | None:
    """`org/name` when a folder on `path` is a Hugging Face cache folder (`datasets--org--name`)."""
    for part in reversed([p for p in path.split("/") if p]):
        if m := _CACHE.match(part):
            return f"{m.group(1)}/{m.group(2)}"
    return None


def folder_dataset_id(folder: str, root_name: str) -> str:
    """The hub id of a cache folder on the path, else the folder's own name."""
    parts = [p for p in folder.split("/") if p]
    return hub_cache_id(folder) or (parts[-1] if parts else root_name)
