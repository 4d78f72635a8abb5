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


def _summary(a: Any) -> tuple[Any, ...]:
    """Everything an analysis reports, comparable across runs."""
    return (
        [(g.module, g.name, g.offset, g.opcode, g.called, g.detail) for g in a.globals],
        [(c.offset, c.opcode) for c in a.calls],
        [(n.kind, n.offset, n.message) for n in a.notes],
        [p.offset for p in a.persistent_ids],
        (a.pickles, a.protocol, a.opcodes, a.end, a.error, a.error_offset),
        [_plainly(r) for r in a.results],
    )


def _plainly(value: Any, depth: int = 0) -> Any:
    """A simulated value as comparable plain data (no hashing: mutated streams build odd keys)."""
    if depth > 200:
        return "..."
    if isinstance(value, PDict):
        return ("dict", [(_plainly(k, depth + 1), _plainly(v, depth + 1)) for k, v in value.items])
    if isinstance(value, PSet):
        return ("set", [_plainly(v, depth + 1) for v in value.items])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_plainly(v, depth + 1) for v in value])
    if isinstance(value, CallRec):
        return ("call", value.offset, value.opcode, _plainly(value.func, depth + 1), _plainly(value.args, depth + 1))
    if isinstance(value, GlobalRef):
        return ("global", value.module, value.name, value.offset)
    if isinstance(value, Opaque):
        return ("opaque", value.what, value.size, value.offset)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return (type(value).__name__, repr(value))


def _by_handlers(data: bytes) -> Any:
    """The analysis with the machine's inline path off (every opcode runs through its handler) and
    one-byte reads (every operand crosses a window)."""
    from aibom.pickles import reader, vm

    with pytest.MonkeyPatch.context() as m:
        m.setattr(vm, "_INLINE", False)
        m.setattr(reader, "WINDOW", 1)
        m.setattr(reader, "FIRST_WINDOW", 1)
        return analyse(Reader.of_bytes(data))


_edge_values = st.one_of(
    data_values,
    st.dictionaries(st.text(max_size=300), st.floats(allow_nan=False) | st.integers(), max_size=6),
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=70_000), max_size=2),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=_edge_values,
    protocol=st.integers(min_value=0, max_value=5),
    cut=st.integers(min_value=0, max_value=1 << 20),
    flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=3),
)
def test_inline_opcodes_agree_with_their_handlers(
    value: Any, protocol: int, cut: int, flips: list[tuple[int, int]]
) -> None:
    """The machine runs the commonest opcodes inline when their operands are in the window; on valid,
    truncated and mutated streams it must report exactly what the opcode handlers report."""
    data = bytearray(pickle.dumps(value, protocol=protocol))
    for pos, val in flips:
        data[pos % len(data)] = val
    data = bytes(data[: len(data) - cut % 3 if flips else len(data)])
    assert _summary(analyse(Reader.of_bytes(data))) == _summary(_by_handlers(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=_edge_values,
    protocol=st.integers(min_value=0, max_value=5),
    small=st.lists(
        st.tuples(st.sampled_from(["MAX_STACK", "MAX_MEMO", "MAX_OPS", "MAX_ITEMS"]), st.integers(0, 60)),
        min_size=1,
        max_size=2,
    ),
)
def test_inline_opcodes_stop_at_the_limits_where_their_handlers_do(
    value: Any, protocol: int, small: list[tuple[str, int]]
) -> None:
    """The inline stretch checks the stack, memo, opcode and item limits once, before it starts: with one
    or two small limits (the others as they are) the machine must stop at the same opcode, with the same
    error, as the handlers do."""
    from aibom.pickles import vm

    data = pickle.dumps(value, protocol=protocol)
    with pytest.MonkeyPatch.context() as m:
        for name, limit in small:
            m.setattr(vm, name, limit)
        assert _summary(analyse(Reader.of_bytes(data))) == _summary(_by_handlers(data))


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x02K\x01\x94\x94q\x00q\x01h\x00h\x05.",  # memo puts and gets, one of an unknown key
        b"\x80\x02}\x8c\x01a\x8c\x01bs]K\x01a\x8c\x01zs.",  # SETITEM on a list, APPEND to a dict
        b"(dp0\nVk\np1\nI01\nsVf\nF1.5\nsVbad\nI1x\ns.",  # protocol 0, a bad INT
        b"(lp0\nF1e5000\naF\naVa\\u00e9\np-1\n.",  # infinity, an empty FLOAT line, a negative PUT
        b"\x80\x04\x8c\x02\xff\xfe\x94.",  # a SHORT_BINUNICODE that is not UTF-8
        b"\x80\x04X\x04\x00\x00\x00ab\xc3(.",  # a BINUNICODE that is not UTF-8
        b"\x80\x04\x94.",  # MEMOIZE with an empty stack
        b"(I0\nI1\nI00\nI01\nL5L\np00\ng0\nt.",
        b"(I010\nI -7 \nI1_000\nt.",  # leading zeros, spaces and underscores as int() reads them
        b"(I0x1F\nt.",
        b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.",  # a FRAME longer than the rest
        b"\x80\x02K\x01\x87.",  # TUPLE3 with one item on the stack
        b"\x80\x02(N\x88\x89)}]J\xff\xff\xff\xffM\x01\x02\x85\x86t.",
    ],
)
def test_inline_opcodes_report_errors_as_their_handlers_do(data: bytes) -> None:
    assert _summary(analyse(Reader.of_bytes(data))) == _summary(_by_handlers(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=data_values, protocol=st.integers(min_value=0, max_value=5), cut=st.integers(min_value=0, max_value=400))
def test_a_source_longer_than_its_size_is_read_only_up_to_the_size(value: Any, protocol: int, cut: int) -> None:
    """A reader over a source that holds more bytes than its size (a file that grew while it was scanned)
    sees exactly the first `size` bytes, inline path and handlers alike."""
    data = pickle.dumps(value, protocol=protocol) + b"(I1\n."
    size = max(0, len(data) - cut % (len(data) + 1))
    longer = analyse(Reader(lambda off, n: data[off : off + n], size))
    assert _summary(longer) == _summary(analyse(Reader.of_bytes(data[:size])))


def test_line_opcode_at_the_declared_end_is_truncated() -> None:
    data = b"(I1\n."
    a = analyse(Reader(lambda off, n: data[off : off + n], 3))
    assert a.error is not None and a.error.startswith("truncated") and a.error_offset == 2


_TOKENS = [b"(", b"N", b")", b"]", b"}", b"s", b"a", b"t", b"0", b"1", b"\x85", b"K\x01", b"\x94", b"q\x00", b"h\x00"]
_TOKENS += [b"\x8c\x01a", b"\x8c\x01a\x94", b"\x8c\x01a\x71\x01"]


@pytest.mark.parametrize("limit", ["MAX_STACK", "MAX_MEMO", "MAX_OPS", "MAX_ITEMS"])
def test_every_short_opcode_sequence_stops_at_a_small_limit_as_the_handlers_do(limit: str) -> None:
    """Every sequence of three of these opcodes (marks, pushes, containers, memo puts and gets, strings with
    their fused MEMOIZE/BINPUT), under each limit set to 1, 2 and 3: inline and handler runs agree."""
    import itertools

    from aibom.pickles import vm

    for seq in itertools.product(_TOKENS, repeat=3):
        data = b"".join(seq) + b"N" * 12 + b"."  # 12 bytes of padding: the inline path runs to the end
        for value in (1, 2, 3):
            with pytest.MonkeyPatch.context() as m:
                m.setattr(vm, limit, value)
                inline = _summary(analyse(Reader.of_bytes(data)))
                assert inline == _summary(_by_handlers(data)), (data, limit, value)
