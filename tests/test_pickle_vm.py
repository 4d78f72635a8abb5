"""The simulated pickle machine: faithful on real pickles of every protocol, bounded on hostile ones."""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import struct
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.pickles.policy import issues
from aibom.pickles.reader import Reader
from aibom.pickles.vm import _DISPATCH, CallRec, GlobalRef, Opaque, PDict, PSet, analyse


def test_every_opcode_of_every_protocol_is_simulated() -> None:
    assert {op.code.encode("latin-1")[0] for op in pickletools.opcodes} == set(_DISPATCH)


def to_python(value: Any) -> Any:
    """The value the real unpickler would build, for pure-data pickles."""
    if isinstance(value, PDict):
        return {to_python(k): to_python(v) for k, v in value.items}
    if isinstance(value, PSet):
        return {to_python(v) for v in value.items}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_python(v) for v in value)
    if isinstance(value, CallRec) and isinstance(value.func, GlobalRef):
        name = (value.func.module, value.func.name)
        args = to_python(value.args)
        if name == ("_codecs", "encode"):
            return args[0].encode(args[1])
        if name in (("__builtin__", "bytes"), ("builtins", "bytes")):
            return bytes(*args)
        if name in (("__builtin__", "set"), ("builtins", "set")):
            return set(*args)
        if name in (("__builtin__", "frozenset"), ("builtins", "frozenset")):
            return frozenset(*args)
        if name in (("__builtin__", "bytearray"), ("builtins", "bytearray")):
            return bytearray(*args)
    if isinstance(value, Opaque):
        raise AssertionError(f"unexpected opaque {value}")
    return value


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
data_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=4)
        | st.sets(st.integers(), max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(value=data_values, protocol=st.integers(min_value=0, max_value=5))
def test_simulation_rebuilds_real_pickles_of_every_protocol(value: Any, protocol: int) -> None:
    data = pickle.dumps(value, protocol=protocol)
    a = analyse(Reader.of_bytes(data))
    assert a.error is None and a.pickles == 1 and a.end == len(data)
    rebuilt = to_python(a.results[0])
    if isinstance(value, float) and math.isinf(value):
        assert rebuilt == value
    assert rebuilt == value
    assert issues(a) == []


def test_memo_shared_objects_and_several_pickles() -> None:
    shared = [1, 2]
    data = pickle.dumps([shared, shared], protocol=4) + pickle.dumps("two", protocol=0)
    a = analyse(Reader.of_bytes(data))
    assert a.pickles == 2 and a.error is None
    first = a.results[0]
    assert first[0] is first[1]
    assert a.results[1] == "two"


def test_error_keeps_what_was_found_before() -> None:
    data = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R\xff"
    a = analyse(Reader.of_bytes(data))
    assert a.error == "invalid opcode 0xff" and a.error_offset == len(data) - 1
    assert [(g.qualname, g.called, g.offset) for g in a.globals] == [("os.system", True, 14)]


HOSTILE = {
    "binunicode8 2**63": b"\x80\x04\x8d" + struct.pack("<Q", 2**63) + b"x",
    "binbytes8 huge": b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"x",
    "bytearray8 huge": b"\x80\x05\x96" + struct.pack("<Q", 2**62),
    "long4 huge": b"\x80\x02\x8b" + struct.pack("<i", 2**31 - 1),
    "frame huge": b"\x80\x04\x95" + struct.pack("<Q", 2**60) + b"N.",
    "binunicode 4G": b"X" + struct.pack("<I", 2**32 - 1),
    "protocol 6": b"\x80\x06N.",
    "mark bomb": b"(" * 600_000 + b".",
    "dup bomb": b"N" + b"2" * 600_000 + b".",
    "list bomb": b"]" + b"q\x00" + b"(h\x00h\x00h\x00h\x00h\x00h\x00h\x00h\x00l" * 5000 + b".",
    "memo get undefined": b"\x80\x02h\x07.",
    "memo put empty": b"\x80\x02q\x00.",
    "long_binput huge key": b"N" + b"r\xff\xff\xff\xff" + b".",
    "int text huge": b"I" + b"9" * 60_000 + b"\n.",
    "line without newline": b"c" + b"a" * 100_000,
    "stop in mark": b"(N.",
    "stop empty": b".",
    "append to int": b"K\x01K\x02a.",
    "setitems odd": b"}(K\x01u.",
    "reduce empty": b"R.",
    "empty": b"",
    "newobj empty": b"\x81.",
    "stack_global non-str": b"K\x01K\x02\x93.",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_streams_end_quickly_as_errors(name: str) -> None:
    t0 = time.perf_counter()
    a = analyse(Reader.of_bytes(HOSTILE[name]))
    assert time.perf_counter() - t0 < 3
    if name in ("list bomb", "long_binput huge key"):  # shared references never expand; sparse memo keys are fine
        assert a.error is None
    elif name == "stack_global non-str":
        assert a.error is None and a.globals[0].module is None
        assert [i.severity.value for i in issues(a)] == ["error"]
    else:
        assert a.error is not None and a.pickles == 0, name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    a = analyse(Reader.of_bytes(data))
    assert a.complete or a.error


def _torch_state_dict_pickle() -> bytes:
    import zipfile

    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2, 3), "b": torch.ones(3, dtype=torch.bfloat16)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        return z.read("archive/data.pkl")


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=10_000),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
)
def test_mutated_torch_pickle_never_raises(cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(TORCH_PKL)
    for pos, val in flips:
        data[pos % len(data)] = val
    data = data[: cut % (len(data) + 1)]
    a = analyse(Reader.of_bytes(bytes(data)))
    if len(data) < len(TORCH_PKL) and not flips:
        assert a.error is not None and a.error.startswith(("truncated", "no pickle"))
    assert a.complete or a.error_offset is not None


TORCH_PKL = _torch_state_dict_pickle()


def test_protocol_0_lines_are_read_once_across_windows() -> None:
    """Protocol 0 has a text line per opcode. A 2 MiB stream crosses the 64 KiB first window and several
    1 MiB windows; every value must come through, and the underlying reads must stay a handful."""
    value = {f"key{i:06d}": [f"value {i}", i, str(i) * 3] for i in range(40_000)}
    data = pickle.dumps(value, protocol=0)
    assert len(data) > 2 << 20
    reads: list[int] = []

    def read_at(offset: int, n: int) -> bytes:
        reads.append(n)
        return data[offset : offset + n]

    a = analyse(Reader(read_at, len(data)))
    assert a.error is None and a.pickles == 1
    assert to_python(a.results[0]) == value
    assert len(reads) <= 2 + len(data) // (1 << 20) * 2, len(reads)


def test_protocol_0_line_limits_hold_across_windows() -> None:
    from aibom.pickles.vm import MAX_LINE

    long_line = b"(V" + b"a" * (MAX_LINE + 10) + b"\nt."
    a = analyse(Reader.of_bytes(b"(V" + b"x" * 50_000 + b"\nV" + b"y" * 30_000 + b"\nt."))
    assert a.error is None and a.pickles == 1  # a long line (under the limit) across the first window
    a = analyse(Reader.of_bytes(long_line))
    assert a.error is not None and "longer than" in a.error
    a = analyse(Reader.of_bytes(b"(V" + b"y" * 30_000))  # no newline before the end
    assert a.error is not None and a.error.startswith("truncated"), a.error
