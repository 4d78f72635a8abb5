"""The scanner registry: format families register here, and `identify` picks one per file."""

from __future__ import annotations

import importlib
import pkgutil
import threading

from ..sniff import Probe
from .base import Scanner, ScanOutput, path_ref

__all__ = ["ScanOutput", "Scanner", "identify", "path_ref", "register", "registered"]

_registry: list[Scanner] = []
_loaded = False
_load_lock = threading.RLock()


def register(cls: type[Scanner]) -> type[Scanner]:
    """Class decorator: make a scanner known to `identify`."""
    if not any(type(s) is cls for s in _registry):
        _registry.append(cls())
        _registry.sort(key=lambda s: (s.priority, s.family))
    return cls


def registered() -> list[Scanner]:
    """All scanners, in the order they are asked."""
    global _loaded
    if _loaded:
        return list(_registry)
    with _load_lock:  # worker threads ask at once; importing in parallel risks half-initialised modules
        if not _loaded:
            # Every module in this package is a format family that registers itself on import.
            for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
                if mod.name != "base" and not mod.name.startswith("_"):
                    importlib.import_module(f"{__name__}.{mod.name}")
            _loaded = True
    return list(_registry)


def identify(probe: Probe) -> tuple[Scanner, str]:
    """The first scanner that recognises the file, and the format it named."""
    for scanner in registered():
        fmt = scanner.identify(probe)
        if fmt:
            return scanner, fmt
    raise LookupError("no scanner claimed the file")  # the binary fallback claims everything
