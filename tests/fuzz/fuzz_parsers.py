"""Coverage-guided fuzzing (atheris/libFuzzer) of aibom's byte parsers, below the pipeline's safety net.

    python tests/fuzz/make_corpus.py /tmp/corpus                 # seeds made by the real libraries
    python tests/fuzz/fuzz_parsers.py TARGET /tmp/corpus/TARGET -max_total_time=300 -rss_limit_mb=1024

TARGET is one of targets.TARGETS (or `list`). Each input is written to a scratch file and run through
`identify` + the scanner's `scan` exactly as the pipeline does, but any exception escaping the scanner
is a crash (the pipeline would turn it into a "please report" finding), and so is an input taking
longer than --input-seconds (default 5). Inputs named bom.cdx.* (target `bom`) drive `read_bom`
the same way; its one allowed error is BomReadError. Target `all` covers every family in one process.
Crash inputs are written by libFuzzer as crash-* files.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import TARGETS, split_input


class InputTimeout(BaseException):
    """One input ran past its time limit (BaseException: no scanner catch-all may swallow it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise InputTimeout("input took longer than the per-input limit")


class Harness:
    """Runs one fuzz input through the parser family of `target` in a private scratch folder."""

    def __init__(self, target: str, seconds: float) -> None:
        from aibom.scanners import registered

        registered()  # import every scanner once, outside the timed runs
        self.target = target
        self.seconds = seconds
        scratch = os.environ.get("AIBOM_FUZZ_SCRATCH") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
        self.root = tempfile.mkdtemp(prefix=f"aibom-fuzz-{target}-", dir=scratch)
        atexit.register(shutil.rmtree, self.root, ignore_errors=True)  # libFuzzer's own exit skips this
        signal.signal(signal.SIGALRM, _alarm)

    def __call__(self, data: bytes) -> None:
        name, content = split_input(self.target, data)
        path = os.path.join(self.root, name)
        with open(path, "wb") as f:
            f.write(content)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        start = time.monotonic()
        try:
            if name.startswith("bom.cdx."):
                self._read_bom(path)
            else:
                self._scan(name, path)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if time.monotonic() - start > self.seconds:
            raise InputTimeout(f"{time.monotonic() - start:.1f} s")

    def _scan(self, name: str, path: str) -> None:
        from aibom.inventory import Category
        from aibom.scanners import ScanOutput, identify
        from aibom.sniff import Probe, ReadError

        probe, _ = Probe.from_file(name, path, self.root)
        scanner, fmt = identify(probe)
        out = ScanOutput()
        try:
            scanner.scan(probe, fmt, out)
        except ReadError:
            return  # the pipeline reports this as `unreadable`: an expected outcome on a regular file too
        for finding in out.findings:
            if "please report" in finding.message:
                raise AssertionError(f"a scanner reported its own bug: {finding.message}")
            assert isinstance(finding.category, Category)

    def _read_bom(self, path: str) -> None:
        from aibom.bom.read import BomReadError, read_bom

        try:
            read_bom(Path(path))
        except BomReadError as exc:
            assert "\n" not in str(exc), "a BOM read error must be one line"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in TARGETS:
        print(f"usage: {Path(argv[0]).name} TARGET [CORPUS_DIR...] [libFuzzer flags]", file=sys.stderr)
        print(f"targets: {' '.join(sorted(TARGETS))}", file=sys.stderr)
        return 0 if len(argv) > 1 and argv[1] == "list" else 2
    target = argv[1]
    seconds = 5.0
    rest = []
    for arg in argv[2:]:
        if arg.startswith("--input-seconds="):
            seconds = float(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    import atheris

    with atheris.instrument_imports(include=["aibom"]):
        import aibom.bom.read
        import aibom.scanners  # noqa: F401

        harness = Harness(target, seconds)
    if not any(a.startswith("-timeout=") for a in rest):
        rest.append(f"-timeout={int(seconds * 2) + 1}")
    atheris.Setup([argv[0], *rest], harness)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
