"""Byte-compile the aibom that the benchmarks run, as pip does when it installs a package.

A benchmark times what a user runs. `pip install aibom` writes every module's bytecode at install time,
but an editable (development) install under `PYTHONDONTWRITEBYTECODE=1` never does, so each timed run
would compile aibom's sources again: about 0.1 s of every warm rescan and more on a rescan that loads
the scanners. The scripts call `compile_aibom()` before they time anything.
"""

from __future__ import annotations

import compileall
import importlib.util
from pathlib import Path


def compile_aibom() -> list[Path]:
    """Write bytecode for every module of aibom (a no-op where it is current): the package this interpreter
    imports, and the repository's copy, which `python -m aibom` run from the repository imports instead."""
    folders = [Path(__file__).resolve().parent.parent / "aibom"]
    spec = importlib.util.find_spec("aibom")
    if spec is not None and spec.submodule_search_locations:
        folders.append(Path(next(iter(spec.submodule_search_locations))).resolve())
    done = []
    for folder in dict.fromkeys(folders):
        if (folder / "__init__.py").is_file():
            compileall.compile_dir(folder, quiet=1)
            done.append(folder)
    return done
