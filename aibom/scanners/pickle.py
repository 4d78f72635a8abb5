"""Pickle streams: plain pickles of every protocol, joblib files (plain, ZF, or zlib/gzip/bz2/xz/lzma/lz4 compressed),
dill, `.pkl`/`.pdparams` ... identified by content, analysed by the simulated pickle machine."""

from __future__ import annotations

from ..containers import ArchiveError, Budget, compression_of, decompress
from ..inventory import Severity
from ..pickles.emit import emit, inspect_probe, probe_blob
from ..pickles.inspect import (
    IDENTIFY_PICKLES,
    LOOSE_PICKLE_NAMES,
    PICKLE_NAMES,
    UNSUPPORTED_COMPRESSION,
    inner_name_of,
    looks_like_pickle,
    old_protocol_pickle,
    zfile_start,
)
from ..pickles.policy import judge, well_formed
from ..pickles.reader import Reader
from ..pickles.vm import START_OPCODES, analyse
from ..sniff import Probe, looks_like_text
from . import register
from .base import Scanner, ScanOutput


def _protocol0_or_1(probe: Probe) -> bool:
    """An old (protocol 0/1) pickle: its head parses as pickle opcodes and imports a well-formed name.

    Text files often start with opcode letters (`import ...` reads as INST, `class ...` as GLOBAL), so a
    broken stream is claimed only when it is named as a pickle or is binary and imports a known gadget.
    """
    head = probe.head
    if not head or head[0] not in START_OPCODES:
        return False
    a = analyse(Reader.of_bytes(head), max_pickles=IDENTIFY_PICKLES)
    if probe.size == len(head):
        probe.identified["pickle"] = a  # the whole file: the scan need not run it again
    named = probe.name.lower().endswith(PICKLE_NAMES)
    imports = [g for g in a.globals if g.module is not None and well_formed(g.module, g.name or "")]
    if a.pickles:
        return bool(imports) or named
    truncated = bool(a.error and a.error.startswith("truncated")) and probe.size > len(head)
    if truncated and imports:
        return True
    if named and (imports or not probe.name.lower().endswith(LOOSE_PICKLE_NAMES)):
        return bool(imports) or bool(a.opcodes > 2 and a.error_offset and a.error_offset > 2)
    return not looks_like_text(head) and any(judge(g).severity is Severity.ERROR for g in imports)


@register
class PickleScanner(Scanner):
    family = "pickle"
    priority = 80

    def identify(self, probe: Probe) -> str | None:
        head = probe.head
        if looks_like_pickle(head):
            return "joblib" if b"joblib.numpy_pickle" in head else "pickle"
        if zfile_start(head) is not None:
            return "joblib"
        if head[:4] in UNSUPPORTED_COMPRESSION and probe.name.lower().endswith(PICKLE_NAMES):
            return "joblib"
        kind = compression_of(head)
        if kind is not None:
            if probe.name.lower().endswith(PICKLE_NAMES) or inner_name_of(probe.name).lower().endswith(PICKLE_NAMES):
                return "joblib"  # named as a pickle and compressed: analysed (or reported) whatever it holds
            try:
                peek = decompress(probe_blob(probe), kind, Budget(), limit=256)
            except ArchiveError:
                return None
            return "joblib" if looks_like_pickle(peek) or old_protocol_pickle(peek) else None
        return "pickle" if _protocol0_or_1(probe) else None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        emit(probe, fmt, inspect_probe(probe, probe.identified.get("pickle")), out)
