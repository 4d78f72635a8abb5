"""The syntactic opcode pass (aibom/pickles/opscan.py): what it reads past aibom's machine, and that it
agrees with the machine wherever the machine runs a stream to its end."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pickle_corpus import scan_bytes

from aibom.pickles import vm
from aibom.pickles.opscan import imports_from
from aibom.pickles.reader import MAX_LINE, Reader

MARKER = "AIBOM-OPSCAN-MARKER"
PAYLOAD = b"cbuiltins\nexec\n(V" + f"print({MARKER!r})".encode() + b"\ntR."


def _names(data: bytes) -> set[str]:
    found, _ = imports_from(Reader.of_bytes(data), 1_000_000, {}, [[]], _plain)
    return {f"{module}.{name}" for module, name, *_ in found}


def _plain(value: object) -> object:
    return value if isinstance(value, str | int) else None


OBJECTS = [
    collections.OrderedDict(a=1),
    collections.Counter("abc"),
    datetime.datetime(2026, 11, 24, 12, 0),
    decimal.Decimal("1.5"),
    fractions.Fraction(1, 3),
    {"nested": [1, 2.5, "x", b"y", (None, True)], "set": {1, 2}, "frozen": frozenset({3})},
    [collections.deque([1, 2]), range(5), slice(1, 2), complex(1, 2)],
]


@pytest.mark.parametrize("protocol", range(6))
def test_it_finds_the_imports_the_machine_finds(protocol: int) -> None:
    """On real pickles, where the machine runs to STOP, the pass lists the same imports (GLOBAL, INST, and
    STACK_GLOBAL from the strings before it, memoized or not)."""
    for obj in OBJECTS:
        data = pickle.dumps(obj, protocol=protocol)
        a = vm.analyse(Reader.of_bytes(data))
        assert a.error is None
        assert _names(data) == {g.qualname for g in a.globals}, (protocol, obj)


def test_stack_global_names_may_come_from_the_memo_or_the_stack_before() -> None:
    def names(data: bytes, memo: dict[int, object], levels: list[list[object]]) -> list[tuple[str, str]]:
        found, _ = imports_from(Reader.of_bytes(data), 100, memo, levels, _plain)
        return [(module, name) for module, name, *_ in found]

    memo = {5: "os", 6: "system"}
    assert names(b"h\x05h\x06\x93.", memo, [[]]) == [("os", "system")]
    assert names(b"\x93.", memo, [[1, "posix", "system"]]) == [("posix", "system")]
    # what pops and pushes is modelled: POP, POP_MARK, DUP+POP, a tuple popped, BUILD keeping its object
    for between in (b"N0", b"(\x8c\x04junk1", b"20", b"NN\x860", b"Nb"):
        data = b"\x8c\x08builtins\x8c\x04exec" + between + b"\x93."
        assert names(data, {}, [[]]) == [("builtins", "exec")], between
    # MEMOIZE stores at the memo's length: a PUT over an index the memo already holds adds nothing
    data = b"Np0\n0\x8c\x08builtins\x94\x8c\x04exec\x94h\x01h\x02\x93."
    assert names(data, {0: "x"}, [[]]) == [("builtins", "exec")]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), ops=st.integers(0, 5000))
def test_any_bytes_end_in_a_list_within_the_opcode_budget(data: bytes, ops: int) -> None:
    found, used = imports_from(Reader.of_bytes(data), ops, {}, [[]], _plain)
    assert len(found) <= used <= ops


@given(cut=st.integers(0, len(PAYLOAD)), flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255))))
def test_mutated_payloads_never_raise(cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(b"\x80\x04" + PAYLOAD[:cut] + PAYLOAD)
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    imports_from(Reader.of_bytes(bytes(data)), 10_000, {}, [[]], _plain)


def _pickle_load_runs(data: bytes, tmp_path: Path) -> None:
    """The real pickle.load, in a child process, runs the payload in `data`."""
    path = tmp_path / "model.pkl"
    path.write_bytes(data)
    run = subprocess.run(
        [sys.executable, "-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert MARKER in run.stdout, run.stderr


AFTER_AN_AIBOM_ONLY_ERROR = {
    "list-setitem": b"\x80\x02]K\x07aK\x00K\x09s0" + PAYLOAD,
    "line-longer-than-aibom-reads": b"\x80\x02V" + b"a" * (MAX_LINE + 10) + b"\n0" + PAYLOAD,
    "stack-global-from-memo": b"\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94]K\x07aK\x00K\x09s0h\x00h\x01\x93(V"
    + f"print({MARKER!r})".encode()
    + b"\ntR.",
}


@pytest.mark.parametrize("name", sorted(AFTER_AN_AIBOM_ONLY_ERROR))
def test_a_payload_after_where_the_machine_stops_is_named(name: str, tmp_path: Path) -> None:
    """CPython's unpickler accepts what aibom's machine stops at (SETITEM into a list, an INT in base 16, a
    line longer than 64 KiB) and runs the payload after it: the report names it, besides the unreadable part."""
    data = AFTER_AN_AIBOM_ONLY_ERROR[name]
    _pickle_load_runs(data, tmp_path)
    for file_name in ("model.pkl", "model.bin"):
        _, out, _ = scan_bytes(data, file_name)
        categories = {f.category.value: f.message for f in out.findings}
        assert "builtins.exec called via" in categories.get("unsafe-code", ""), categories
        assert "read on past where aibom's analysis stopped" in categories["unsafe-code"]
        assert "unreadable" in categories


NAMES = b"\x80\x04\x8c\x08builtins\x8c\x04exec"
CALL = b"(V" + f"print({MARKER!r})".encode() + b"\ntR."
ACCEPTED_NOW = {
    # CPython's unpickler accepts these; aibom's machine refused them and left the rest unread
    "empty-appends-on-a-str": NAMES + b"(e\x93" + CALL,
    "empty-setitems-on-a-str": NAMES + b"(u\x93" + CALL,
    "int-in-base-16": b"\x80\x02I0x10\n0" + PAYLOAD,
    "int-in-c-octal": b"\x80\x02I010\n0" + PAYLOAD,
    "a-1-mib-line": b"\x80\x02V" + b"a" * (1 << 20) + b"\n0" + PAYLOAD,
}


@pytest.mark.parametrize("name", sorted(ACCEPTED_NOW))
def test_what_cpython_accepts_is_read_on(name: str, tmp_path: Path) -> None:
    data = ACCEPTED_NOW[name]
    _pickle_load_runs(data, tmp_path)
    _, out, _ = scan_bytes(data, "model.pkl")
    messages = {f.category.value: f.message for f in out.findings}
    assert "builtins.exec called via" in messages.get("unsafe-code", ""), messages
    assert "unreadable" not in messages, messages


def test_a_protocol_0_numpy_array_is_not_unreadable() -> None:
    """A protocol-0 array pickles its bytes as one long UNICODE line (720 KB here)."""
    import numpy as np

    data = pickle.dumps(np.random.default_rng(0).random((300, 300)), protocol=0)
    _, out, _ = scan_bytes(data, "array.pkl")
    assert not [f.message for f in out.findings if f.severity.value == "error"]
