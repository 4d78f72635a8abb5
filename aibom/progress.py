"""A progress line on stderr for long scans: only on a terminal, never under CI or --quiet."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """Counts files and hashed bytes from worker threads; redraws at most ten times a second."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = self.stream.isatty() and not os.environ.get("CI")
        self.enabled = enabled
        self.total_files = 0
        self.files = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._last = 0.0
        self._drawn = False

    def start(self, total_files: int) -> None:
        self.total_files = total_files

    def add_bytes(self, n: int) -> None:
        with self._lock:
            self.bytes += n
        self._maybe_draw()

    def file_done(self) -> None:
        self.files_done(1)

    def files_done(self, n: int) -> None:
        with self._lock:
            self.files += n
        self._maybe_draw()

    def _maybe_draw(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        pct = 100 * self.files // self.total_files if self.total_files else 100
        line = f"\raibom: {self.files}/{self.total_files} files ({pct}%), {_human(self.bytes)} hashed"
        self.stream.write(line.ljust(64))
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * 64 + "\r")
            self.stream.flush()
