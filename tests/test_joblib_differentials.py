"""joblib files where aibom must read exactly the bytes joblib reads.

joblib writes each array's bytes straight after its NumpyArrayWrapper in the pickle stream, and the
unpickler goes on after them. aibom skips the same bytes; if it skipped more than joblib reads, opcodes that
joblib runs would be hidden as "array data". Each crafted file below is loaded by the real `joblib.load`
(in a child process) to prove that it runs its payload, a harmless `print` of a marker, and aibom must
report that call.
"""

from __future__ import annotations

import itertools
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pickle_corpus import scan_bytes

from aibom.inventory import Severity
from aibom.pickles import vm
from aibom.pickles.reader import MAX_LINE, Reader

MARKER = "AIBOM-DIFFERENTIAL-MARKER"


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n)  # BININT


def _dtype(descr: str, state: tuple[int, int] | None) -> bytes:
    """numpy.dtype(descr, False, True), with BUILD of a state whose item size and flags are given."""
    out = _global("numpy", "dtype") + b"(" + _str(descr) + b"\x89\x88tR"  # NEWFALSE NEWTRUE TUPLE REDUCE
    if state is not None:
        elsize, flags = state
        out += b"(" + _int(3) + _str("|") + b"NNN" + _int(elsize) + _int(1) + _int(flags) + b"tb"
    return out


def _wrapper(items: list[tuple[str, bytes]]) -> bytes:
    """A NumpyArrayWrapper built with the state dict `items` (key, pickled value), in this order."""
    body = b"".join(_str(k) + v for k, v in items)
    return _global("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}(" + body + b"ub"


def _shape(*dims: int) -> bytes:
    return b"(" + b"".join(_int(d) for d in dims) + b"t"


def _state(shape: bytes, dtype: bytes, *extra: tuple[str, bytes]) -> list[tuple[str, bytes]]:
    return [
        ("subclass", _global("numpy", "ndarray")),
        ("shape", shape),
        ("order", _str("C")),
        ("dtype", dtype),
        ("allow_mmap", b"\x89"),
        *extra,
    ]


CALL = _global("builtins", "print") + b"(" + _str(MARKER) + b"tR"
PAYLOAD = b"0" + CALL  # POP the array, call print


def _hidden(size: int) -> bytes:
    """The payload, padded to `size` bytes with POP-free filler that joblib never reaches as data: what an
    aibom that skips `size` bytes would take for array data."""
    assert len(PAYLOAD) < size
    return PAYLOAD + b"N0" * ((size - len(PAYLOAD)) // 2) + b"N" * ((size - len(PAYLOAD)) % 2)


def _load_output(path: Path, call: str) -> str:
    """What a child prints while it runs `call` on the file at sys.argv[1] (what it raises after is ignored:
    a payload has run by then). The real loaders: joblib.load, pickle.load, torch.load."""
    code = f"import sys, pickle\ntry:\n    {call}\nexcept Exception as exc:\n    print('raised', type(exc).__name__)"
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, str(path)], capture_output=True, text=True, timeout=120
    ).stdout


JOBLIB_LOAD = "import joblib; joblib.load(sys.argv[1])"


def _errors(data: bytes, name: str) -> list[str]:
    """The error findings of scanning `data` as a file called `name`."""
    _, out, _ = scan_bytes(data, name)
    return [f.message for f in out.findings if f.severity is Severity.ERROR]


def _runs_and_is_named(data: bytes, tmp_path: Path, names: tuple[str, ...], loader: str = JOBLIB_LOAD) -> None:
    """The real loader runs the payload in `data`, and aibom names its call under each file name."""
    path = tmp_path / "loaded.bin"
    path.write_bytes(data)
    assert MARKER in _load_output(path, loader)
    for name in names:
        assert any("builtins.exec called" in m for m in _errors(data, name)), name


def _cases() -> dict[str, tuple[bytes, str]]:
    """name -> (file, what aibom must report: the payload's call, or that it cannot size an array)."""
    u1 = _dtype("u1", (-1, 0))
    big = 200
    return {
        # the state dict sets "shape" twice: joblib's wrapper has the last one (2 bytes), not the first
        "duplicate-shape": (
            b"\x80\x02" + _wrapper(_state(_shape(big + 2), u1, ("shape", _shape(2)))) + b"ab" + _hidden(big) + b".",
            "call",
        ),
        # alignment padding: set, then unset; joblib reads no padding byte
        "padding-unset-last": (
            b"\x80\x02"
            + _wrapper(
                _state(_shape(0), u1, ("numpy_array_alignment_bytes", _int(16)), ("numpy_array_alignment_bytes", b"N"))
            )
            + PAYLOAD
            + b"N0" * 80
            + b".",
            "call",
        ),
        # an object array's nested pickle is read by a plain Unpickler: a wrapper inside it reads no bytes
        "wrapper-in-an-object-array": (
            b"\x80\x02"
            + _wrapper(_state(_shape(1), _dtype("O8", (-1, 63))))
            + b"\x80\x02"
            + _wrapper(_state(_shape(big), u1))
            + _hidden(big)
            + b".."
            ,
            "call",
        ),
        # a fixed-size type keeps its size whatever its pickled state claims (in numpy 2): never guessed
        "fixed-type-claims-a-size": (
            b"\x80\x02" + _wrapper(_state(_shape(2), _dtype("u1", (100, 0)))) + b"ab" + _hidden(198) + b".",
            "unreadable",
        ),
    }  # fmt: skip


def _fields_dtype_v2() -> bytes:
    """numpy.dtype("V8") whose version-2 state declares an object field but no object flag: numpy
    recomputes the flag from the fields (an object array, a nested pickle), which aibom cannot follow."""
    obj = _global("numpy", "dtype") + b"(" + _str("O8") + b"\x89\x88tR(" + _int(3) + _str("|") + b"NNN"
    obj += _int(-1) + _int(-1) + _int(63) + b"tb"
    fields = b"}" + _str("a") + obj + _int(0) + b"\x86s"  # {"a": (dtype("O8"), 0)}
    state = b"(" + _int(2) + _str("|") + b"N(" + _str("a") + b"t" + fields + _int(8) + _int(1) + _int(0) + b"t"
    return _global("numpy", "dtype") + b"(" + _str("V8") + b"\x89\x88tR" + state + b"b"


def _more_cases() -> dict[str, tuple[bytes, str]]:
    u1 = _dtype("u1", (-1, 0))
    wrapper_class = _global("joblib.numpy_pickle", "NumpyArrayWrapper")

    def state(*items: tuple[str, bytes]) -> bytes:
        return b"}(" + b"".join(_str(k) + v for k, v in items) + b"u"

    two_bytes = state(*_state(_shape(2), u1))
    return {
        # protocols 0 and 1 make the wrapper with copyreg._reconstructor: its array is skipped like any other
        "made-by-copyreg": (
            b"\x80\x02" + _global("copyreg", "_reconstructor") + b"(" + wrapper_class + _global("builtins", "object")
            + b"NtR" + two_bytes + b"b" + b"ab" + PAYLOAD + b".",
            "call",
        ),
        # BUILD twice on the memoized wrapper: joblib merges the states (the padding stays), aibom refuses
        "built-twice": (
            b"\x80\x02" + wrapper_class + b")\x81q\x00"
            + state(*_state(_shape(0), u1, ("numpy_array_alignment_bytes", _int(16)))) + b"b" + b"\x00" + b"0"
            + b"h\x00" + two_bytes + b"b" + b"\x00" + b"ab" + PAYLOAD + b".",
            "unreadable",
        ),
        # a wrapper made by calling the class: its __init__ sets the padding that the state leaves out
        "made-by-init": (
            b"\x80\x02" + wrapper_class + b"(" + _global("numpy", "ndarray") + _shape(2) + _str("C") + u1 + b"tR"
            + two_bytes + b"b" + b"\x00" + b"ab" + PAYLOAD + b".",
            "unreadable",
        ),
        # an old dtype state version: numpy recomputes the object flag from the fields (a nested pickle)
        "dtype-state-version-2": (
            b"\x80\x02" + _wrapper(_state(_shape(16), _fields_dtype_v2()))
            + (b"\x80\x02" + CALL + b".").ljust(128, b"N") + b".",
            "unreadable",
        ),
    }  # fmt: skip


def _frame(body: bytes) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body)) + body


def _framed_cases() -> dict[str, tuple[bytes, str]]:
    """Frames and the wrapper's class: joblib ends a frame before an array's bytes; a reader that buffered
    a frame reads the array from the file after it."""
    import pickle

    u1 = _dtype("u1", (-1, 0))
    filler = (b"0N" + b"N0" * len(PAYLOAD))[: len(PAYLOAD)]
    nested = pickle.dumps(np.array([None], dtype=object), protocol=4)[11:] + b"B" + struct.pack("<I", len(PAYLOAD))
    swallow = b"B" + struct.pack("<I", len(PAYLOAD))  # data to joblib; to a reader of opcodes, it hides PAYLOAD
    items = b"}(" + b"".join(_str(k) + v for k, v in _state(_shape(len(swallow)), u1)) + b"u"
    wrapper_class = _global("joblib.numpy_pickle", "NumpyArrayWrapper")
    return {
        # the wrapper's BUILD inside a frame: joblib reads the array bytes after the frame, not in it
        "array-inside-a-frame": (
            b"\x80\x04" + _frame(_wrapper(_state(_shape(len(PAYLOAD)), u1)) + PAYLOAD) + filler + b".",
            "unreadable",
        ),
        # an object array's pickle ends inside its frame: joblib's inner unpickler drops the rest of it
        "object-array-pickle-ends-inside-its-frame": (
            b"\x80\x04" + _wrapper(_state(_shape(1), _dtype("O8", (-1, 63)))) + b"\x80\x04" + _frame(nested)
            + PAYLOAD + b".",
            "unreadable",
        ),
        # copyreg._reconstructor ignores its third argument when the base is object
        "made-by-copyreg-with-a-state-argument": (
            b"\x80\x02" + _global("copyreg", "_reconstructor") + b"(" + wrapper_class + _global("builtins", "object")
            + b"K\x00tR" + items + b"b" + swallow + PAYLOAD + b".",
            "call",
        ),
        # an old-format wrapper whose BUILD slot state makes it a NumpyArrayWrapper
        "class-set-by-build": (
            b"\x80\x02" + _global("joblib.numpy_pickle", "NDArrayWrapper") + b")\x81" + items + b"}"
            + _str("__class__") + wrapper_class + b"s\x86b" + swallow + PAYLOAD + b".",
            "__class__",
        ),
    }  # fmt: skip


CASES = _cases() | _more_cases() | _framed_cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_joblib_runs_the_payload_and_aibom_reports_it(name: str, tmp_path: Path) -> None:
    data, expected = CASES[name]
    path = tmp_path / f"{name}.joblib"
    path.write_bytes(data)
    assert MARKER in _load_output(path, JOBLIB_LOAD)  # the loader really runs it
    wanted = {"call": "builtins.print called", "unreadable": "cannot size"}.get(expected, expected)
    errors = _errors(data, path.name)
    assert any(wanted in m for m in errors), errors


def _layout_of(descr: str, state: tuple[object, ...] | None) -> tuple[int, bool] | None:
    func = vm.GlobalRef("numpy", "dtype", 0, "GLOBAL")
    return vm._dtype_layout(vm.CallRec(func, (descr, False, True), 0, "REDUCE", state))


def test_an_object_type_whose_state_clears_the_object_flag_is_not_guessed(tmp_path: Path) -> None:
    """numpy 2 then reads the items as raw bytes (and joblib.load crashes the interpreter): aibom reports
    the array as one it cannot size rather than pick a reading."""
    data = b"\x80\x02" + _wrapper(_state(_shape(1), _dtype("O8", (-1, 0)))) + b"12345678" + PAYLOAD + b"."
    _, out, _ = scan_bytes(data, "object-flag.joblib")
    assert any("cannot size" in f.message for f in out.findings if f.severity is Severity.ERROR), out.findings


#: Child: numpy's item size and object flag of `numpy.dtype(descr, False, True)` after each state's
#: __setstate__, one JSON line per state as soon as it is known (some states crash numpy itself).
_NUMPY_TRUTH = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
descr, states = sys.argv[1], json.loads(sys.argv[2])
for i, state in enumerate(states):
    dtype = np.dtype(descr, False, True)
    try:
        dtype.__setstate__(tuple(state[:8]) + ((None, (b"ns", 1, 1, 1)),) * (len(state) > 8))
        answer = [dtype.itemsize, bool(dtype.hasobject)]
    except (ValueError, TypeError):
        answer = None
    print(json.dumps([i, answer]), flush=True)
"""


def _numpy_truth(descr: str, states: list[tuple[object, ...]]) -> dict[int, tuple[int, bool] | None]:
    """state index -> numpy's (item size, object flag), None if numpy refuses it; crashing states left out."""
    truth: dict[int, tuple[int, bool] | None] = {}
    todo = list(range(len(states)))
    while todo:
        proc = subprocess.run(
            [sys.executable, "-c", _NUMPY_TRUTH, descr, json.dumps([states[i] for i in todo])],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        done = [json.loads(line) for line in proc.stdout.splitlines()]
        for k, answer in done:
            truth[todo[k]] = None if answer is None else (answer[0], answer[1])
        todo = todo[len(done) + 1 :]  # the state after the last answer crashed numpy: skip it
    return truth


DESCRS = ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "f16", "c8", "c16", "c32",
          "M8", "m8", "O8", "S0", "S5", "U0", "U5", "V0", "V8", "V24"]  # fmt: skip


@pytest.mark.parametrize("descr", DESCRS)
def test_item_size_and_object_flag_agree_with_numpy(descr: str) -> None:
    """Wherever aibom sizes an array's items, it gets numpy's answer, for every state a pickle may give;
    and it sizes every state numpy itself writes."""
    reduced = np.dtype(descr).__reduce__()[2]
    natural = (np.dtype(descr).itemsize, bool(np.dtype(descr).hasobject))
    assert _layout_of(descr, reduced) == natural or natural[0] == 0
    order, version = ("<" if descr[0] in "iufcMmU" else "|"), reduced[0]
    states: list[tuple[object, ...]] = [
        (version, order, None, None, None, elsize, 1, flags) + ((None,) if version == 4 else ())
        for elsize, flags in itertools.product((-1, 0, 3, 8, 100), (0, 1, 16, 63))
    ]
    truth = _numpy_truth(descr, states)
    assert len(truth) >= len(states) // 2  # most states are answered, not crashes
    checked = 0
    for i, state in enumerate(states):
        if i in truth and truth[i] is not None and (got := _layout_of(descr, state)) is not None:
            assert got == truth[i], (descr, state)
            checked += 1
    assert checked


EXEC = _global("builtins", "exec") + b"(" + _str(f"print({MARKER!r})") + b"tR"


def _polyglot(array_bytes: bytes, prefix: bytes = b"") -> bytes:
    """A joblib file whose first array's bytes are `array_bytes`: data to joblib.load, opcodes to pickle.load."""
    return b"\x80\x02" + prefix + _wrapper(_state(_shape(len(array_bytes)), _dtype("u1", (-1, 0)))) + array_bytes + b"."


POLYGLOTS = {
    # pickle.load appends to a list built before the array, then runs the payload: so does the view
    "after-an-append": b"\x80\x02]"
    + _wrapper(_state(_shape(len(b"0K\x01a" + EXEC) + 40), _dtype("u1", (-1, 0))))
    + b"0K\x01a"
    + EXEC
    + b"N0" * 20
    + b"a.",
    "names-in-the-array": _polyglot(EXEC + b"N0" * 20),
    # the names are strings memoized before the array (in a list the estimator holds); the array recalls them
    "names-from-before": _polyglot(
        b"h\x00h\x01\x93(" + _str(f"print({MARKER!r})") + b"tR" + b"N0" * 20,
        prefix=b"](" + _str("builtins") + b"q\x00" + _str("exec") + b"q\x01" + b"e0",  # a list, popped
    ),
    # before the payload, opcodes CPython's unpickler runs but aibom's machine stops at
    "after-a-list-setitem": _polyglot(b"]K\x07aK\x00K\x09s0" + EXEC + b"N0" * 20),
    "after-an-int-in-base-16": _polyglot(b"I0x10\n0" + EXEC + b"N0" * 20),
    "after-a-line-longer-than-aibom-reads": _polyglot(b"V" + b"a" * (MAX_LINE + 10) + b"\n0" + EXEC + b"N0" * 20),
    # the first array holds objects: joblib reads its pickle with a fresh memo, pickle.load with the outer
    # one, so MEMOIZE stores at other indices and BINGET 0 and 1 recall the outer stream's strings
    "object-array-recalling-the-outer-memo": b"\x80\x02]("
    + _str("builtins")
    + b"q\x00"
    + _str("exec")
    + b"q\x01e0"
    + _wrapper(_state(_shape(1), _dtype("O8", (-1, 63))))
    + b"\x80\x04"
    + _str("collections")
    + b"\x94"
    + _str("OrderedDict")
    + b"\x94"
    + b"00h\x00h\x01\x93("
    + _str(f"print({MARKER!r})")
    + b"tR."
    + b".",
}


@pytest.mark.parametrize("name", sorted(POLYGLOTS))
def test_a_payload_that_only_pickle_load_runs_is_reported(name: str, tmp_path: Path) -> None:
    """joblib.load reads the first array's bytes as data; pickle.load (torch.load, a plain unpickler) runs
    them as opcodes. aibom analyses the joblib reading and also what pickle.load would run there."""
    data = POLYGLOTS[name]
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(data)
    assert MARKER not in _load_output(path, JOBLIB_LOAD)
    assert MARKER in _load_output(path, "pickle.load(open(sys.argv[1], 'rb'))")
    errors = _errors(data, path.name)
    assert any("builtins.exec " in m and "pickle.load instead of joblib.load" in m for m in errors), errors


def test_array_data_that_parses_as_opcodes_is_not_a_finding() -> None:
    """Real array bytes read as opcodes (numbers, and text whose lines read as GLOBAL opcodes) never yield a
    pickle.load finding. The wrappers carry no padding (joblib before 1.2, or a stream it cannot seek), so
    the view reads the data itself rather than stopping at a padding byte."""
    rng = np.random.default_rng(5)
    arrays: list[np.ndarray] = [rng.standard_normal(rng.integers(1, 300)).astype(t) for t in ("f4", "f8", "f2")]
    arrays += [rng.integers(0, 256, rng.integers(1, 300), dtype=np.uint8) for _ in range(300)]
    arrays += [rng.integers(-(2**31), 2**31, rng.integers(1, 100), dtype=np.int32) for _ in range(100)]
    text = [b"cat\nhat\n", b"imodule\nname\n(R", b"R", b"os\nsystem\n", b"cos\nsystems\n(tR"]
    arrays += [np.array(text), np.array([t.decode() for t in text])]
    seen = 0
    for arr in arrays:
        dtype = arr.dtype
        descr = dtype.str[1:]
        state = (dtype.itemsize, 0) if dtype.kind in "SU" else (-1, 0)
        data = b"\x80\x02" + _wrapper(_state(_shape(arr.size), _dtype(descr, state))) + arr.tobytes() + b"."
        a = vm.analyse(Reader.of_bytes(data))
        assert a.error is None, (a.error, arr[:8])
        seen += bool(a.plain_load)
        _, out, _ = scan_bytes(data, "model.joblib")
        assert not [f.message for f in out.findings if f.severity is Severity.ERROR], arr[:8]
    assert seen  # the view did read imports out of some arrays' bytes (text lines), none of them reported


def test_the_plain_load_view_changes_nothing_the_joblib_reading_sees() -> None:
    """The array bytes, read as opcodes, append to a list memoized before them: the analysis's own list
    (what joblib builds) stays empty, and the memoized import the view calls is not marked called."""
    array = b"h\x03)R0" + b"h\x02K\x07a"  # BINGET the import, call it, POP; BINGET the list, APPEND 7
    data = (
        b"\x80\x02(]q\x02" + _global("collections", "OrderedDict") + b"q\x03"
        + _wrapper(_state(_shape(len(array)), _dtype("u1", (-1, 0)))) + array + b"l."
    )  # fmt: skip
    a = vm.analyse(Reader.of_bytes(data))
    assert a.error is None and a.results[0][0] == [], (a.error, a.results)
    ordered = [g for g in a.globals if g.qualname == "collections.OrderedDict"]
    assert len(ordered) == 1 and not ordered[0].called
    assert any(g.qualname == "collections.OrderedDict" and g.called for g in a.plain_load)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_real_joblib_files_of_every_protocol_are_read_cleanly(protocol: int) -> None:
    """Protocols 0 and 1 make each wrapper with copyreg._reconstructor: those arrays are skipped too (they
    were read as opcodes, and the file reported unreadable)."""
    import io

    import joblib

    obj = {
        "floats": np.arange(40.0), "text": np.array(["x", "yy"]), "objects": np.array([None, 1], dtype=object),
        "records": np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "when": np.array(["2024-01-01"], dtype="M8[ns]"),
        "masked": np.ma.array([1, 2], mask=[0, 1]), "matrix": np.matrix([[1, 2]]),
        "recarray": np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    }  # fmt: skip
    buf = io.BytesIO()
    joblib.dump(obj, buf, protocol=protocol)
    a = vm.analyse(Reader.of_bytes(buf.getvalue()))
    assert a.error is None and a.pickles == 1, a.error
    _, out, _ = scan_bytes(buf.getvalue(), "model.joblib")
    assert not [f.message for f in out.findings], [f.message for f in out.findings]


def test_the_old_array_wrapper_is_an_error(tmp_path: Path) -> None:
    """joblib's NDArrayWrapper (files before joblib 0.10) loads a file it names with np.load(allow_pickle=True):
    here the file itself, whose first array's bytes then run as a pickle."""
    first = CALL + b"0."
    old = (
        _global("joblib.numpy_pickle", "NDArrayWrapper") + b")\x81}(" + _str("filename") + _str("model.joblib")
        + _str("subclass") + _global("numpy", "ndarray") + _str("allow_mmap") + b"\x89ub"
    )  # fmt: skip
    data = b"\x80\x02" + _wrapper(_state(_shape(len(first)), _dtype("u1", (-1, 0)))) + first + b"0" + old + b"."
    path = tmp_path / "model.joblib"
    path.write_bytes(data)
    assert MARKER in _load_output(path, JOBLIB_LOAD)
    errors = _errors(data, path.name)
    assert any("NDArrayWrapper called" in m and "np.load(allow_pickle=True)" in m for m in errors), errors


def test_a_legacy_torch_file_is_read_as_torch_reads_it(tmp_path: Path) -> None:
    """torch.load's unpickler reads no joblib arrays: bytes after a wrapper in a legacy file are opcodes."""
    magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
    main = b"\x80\x02" + EXEC + b"0}"  # torch's third pickle once the "array" is read as opcodes
    array = b"0N." + main
    sys_info = b"\x80\x02" + _wrapper(_state(_shape(len(array)), _dtype("u1", (-1, 0)))) + array + b"."
    data = magic + b"\x80\x02M\xe9\x03." + sys_info + b"\x80\x02]." * 2
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    assert MARKER in _load_output(path, "import torch; torch.load(sys.argv[1], weights_only=False)")
    assert any("builtins.exec called" in m for m in _errors(data, path.name))


@pytest.mark.parametrize(
    ("module", "name"), [("__builtin__", "eval"), ("__builtin__", "reduce"), ("thread", "start_new_thread")]
)
def test_python2_names_are_judged_as_the_unpickler_maps_them(module: str, name: str) -> None:
    """Protocols 0-2 unpickle Python 2 names through _compat_pickle: thread is _thread, __builtin__.reduce
    is functools.reduce; each is a gadget, imported or called."""
    from aibom.pickles.policy import judge

    verdict = judge(vm.GlobalRef(module, name, 0, "GLOBAL"))
    assert verdict.gadget and verdict.severity is Severity.ERROR, verdict


@pytest.mark.parametrize("dict_size", [4096, 1 << 16, 1 << 23])
def test_lzma_alone_files_of_any_dictionary_size_are_read(dict_size: int, tmp_path: Path) -> None:
    """joblib knows an LZMA-alone file by its first two bytes; the dictionary size after them varies."""
    import lzma

    data = lzma.compress(
        b"\x80\x02" + EXEC + b".", format=lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "dict_size": dict_size}]
    )
    _runs_and_is_named(data, tmp_path, ("model.joblib", "model", "clf.dat"))


def _zfile(pickled: bytes) -> bytes:
    import io

    from joblib.numpy_pickle_compat import write_zfile

    buf = io.BytesIO()
    write_zfile(buf, pickled)
    return buf.getvalue()


ZFILES = {
    "payload": _zfile(b"\x80\x02" + EXEC + b"."),
    # the old format's unpickler reads no inline arrays: what follows a wrapper's BUILD runs
    "payload-after-a-wrapper": _zfile(
        b"\x80\x02" + _wrapper(_state(_shape(len(b"0" + EXEC)), _dtype("u1", (-1, 0)))) + b"0" + EXEC + b"."
    ),
}


@pytest.mark.parametrize("name", sorted(ZFILES))
def test_joblibs_old_zfile_format_is_read(name: str, tmp_path: Path) -> None:
    """joblib.load still reads its pre-0.10 "ZF" files: a zlib-compressed pickle behind a hex length."""
    _runs_and_is_named(ZFILES[name], tmp_path, ("model.pkl", "model", "weights.dat"))


def test_a_clean_zfile_is_clean() -> None:
    import pickle

    fmt, out, _ = scan_bytes(_zfile(pickle.dumps({"weights": [1.0, 2.0], "name": "m"}, protocol=2)), "model.pkl")
    assert fmt == "joblib" and not out.findings, [f.message for f in out.findings]


def _zfile_wbits(pickled: bytes, wbits: int) -> bytes:
    """A ZF file whose zlib stream declares a smaller window (its first byte is not 0x78)."""
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return _zfile(pickled)[:21] + z.compress(pickled) + z.flush()


@pytest.mark.parametrize("wbits", [9, 12])
def test_a_zfile_with_any_zlib_window_is_read(wbits: int, tmp_path: Path) -> None:
    """joblib decompresses a ZF file's stream with wbits=15, which takes any window up to 32 KiB."""
    data = _zfile_wbits(b"\x80\x02" + EXEC + b".", wbits)
    assert data[21] != 0x78
    _runs_and_is_named(data, tmp_path, ("model.pkl", "model", "weights.dat"))


EMPTY_ZIP_TRAILER = b"PK\x05\x06" + bytes(18)
TRAILED = {
    "zfile": ZFILES["payload"] + EMPTY_ZIP_TRAILER,
    "pickle": b"\x80\x02" + EXEC + b"." + EMPTY_ZIP_TRAILER,
    "protocol-0-pickle": b"cbuiltins\nexec\n(V" + f"print({MARKER!r})".encode() + b"\ntR." + EMPTY_ZIP_TRAILER,
}


@pytest.mark.parametrize("kind", sorted(TRAILED))
def test_a_zip_trailer_does_not_hide_what_the_file_starts_with(kind: str, tmp_path: Path) -> None:
    """An empty zip's end record appended to a pickle or a ZF file: zip readers see an empty archive, but
    pickle.load and joblib.load read the file from its start and run the payload."""
    _runs_and_is_named(TRAILED[kind], tmp_path, ("model.pkl", "model", "weights.bin"))


def test_lz4_joblib_files_are_read_under_any_name(tmp_path: Path) -> None:
    """joblib.dump(compress="lz4") writes an lz4 frame and joblib.load reads it back under any name."""
    import io

    import joblib
    import lz4.frame

    payload = lz4.frame.compress(b"\x80\x02" + EXEC + b".")
    _runs_and_is_named(payload, tmp_path, ("model.joblib", "model", "weights.lz4"))
    buf = io.BytesIO()
    joblib.dump({"coef": np.arange(1000.0), "name": "m"}, buf, compress="lz4")
    fmt, out, _ = scan_bytes(buf.getvalue(), "model.joblib")
    assert fmt == "joblib" and not out.findings, [f.message for f in out.findings]
    fmt, out, _ = scan_bytes(lz4.frame.compress(b'{"text": "a line of a dataset"}\n' * 100), "train.jsonl.lz4")
    assert fmt != "joblib" and not out.findings, (fmt, [f.message for f in out.findings])


def _split_streams(kinds: tuple[str, ...]) -> bytes:
    """The payload pickle cut into len(kinds) pieces, each compressed on its own and the streams concatenated."""
    import bz2
    import lzma

    import lz4.frame

    make = {
        "bzip2": bz2.compress,
        "xz": lzma.compress,
        "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
        "lz4": lz4.frame.compress,
    }
    payload = b"\x80\x02" + EXEC + b"."
    cut = [len(payload) * i // len(kinds) for i in range(len(kinds) + 1)]
    return b"".join(make[k](payload[a:b]) for k, a, b in zip(kinds, cut[:-1], cut[1:], strict=True))


@pytest.mark.parametrize("kinds", [("bzip2",) * 2, ("xz",) * 3, ("lzma",) * 2, ("xz", "lzma"), ("lz4",) * 2])
def test_a_pickle_split_across_concatenated_streams_is_read_whole(kinds: tuple[str, ...], tmp_path: Path) -> None:
    """BZ2File, LZMAFile and LZ4FrameFile (what joblib.load reads through) go on into the next stream, so
    the payload may sit in the second one: aibom read only the first and called the pickle truncated."""
    _runs_and_is_named(_split_streams(kinds), tmp_path, ("model.joblib", "model"))


def _print_pickle(protocol: int) -> bytes:
    """A pickle that calls print(MARKER) when loaded (a payload both joblib.load and pickle.load run)."""
    if protocol >= 2:
        return b"\x80\x02" + EXEC + b"."
    return b"cbuiltins\nexec\n(V" + f"print({MARKER!r})".encode() + b"\ntR."


def _streams_case(name: str) -> bytes:
    import bz2
    import lzma

    import lz4.frame

    p = _print_pickle(2)
    a, b = p[: len(p) // 2], p[len(p) // 2 :]
    alone0 = lzma.compress(b, format=lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "lc": 0, "lp": 0, "pb": 0}])
    skippable = struct.pack("<II", 0x184D2A50, 3) + b"abc"
    return {
        # LZMAFile reads every stream after the first in either format, LZMA-alone with any properties byte
        "xz-then-lzma-alone-props-0": lzma.compress(a) + alone0,
        "lzma-then-lzma-alone-props-0": lzma.compress(a, format=lzma.FORMAT_ALONE) + alone0,
        "one-byte-xz-then-lzma-alone": lzma.compress(p[:1])
        + lzma.compress(p[1:], format=lzma.FORMAT_ALONE, filters=[{"id": lzma.FILTER_LZMA1, "pb": 0}]),
        # lz4 readers skip skippable frames between frames
        "lz4-skippable-between": lz4.frame.compress(a) + skippable + lz4.frame.compress(b),
        "lz4-one-byte-then-skippable": lz4.frame.compress(p[:1]) + skippable + lz4.frame.compress(p[1:]),
        # BZ2File and LZMAFile ignore trailing bytes that fail at once, even when they start with a magic
        "bz2-then-magic-and-junk": bz2.compress(p) + b"BZh9" + b"\x01" * 40,
        "xz-then-magic-and-junk": lzma.compress(p) + b"\xfd7zXZ\x00" + b"\x01" * 40,
        "lzma-then-alone-header-and-junk": lzma.compress(p, format=lzma.FORMAT_ALONE)
        + b"\x5d\x00\x00\x10\x00"
        + b"\xff" * 8
        + b"\x01" * 40,
        # a second stream whose end is corrupt: LZMAFile reads it (its first 8 KiB read is fine), the payload
        # runs, then the load fails; aibom read far enough at once to meet the corruption and took it for junk
        "xz-second-stream-corrupt-at-its-end": lzma.compress(b"\x80\x02" + b"N0" * 523000)
        + _corrupt_end(lzma.compress(b"N0" * 10 + EXEC + b"N0" * 25000 + b".")),
        # protocol 0 inside lz4 and lzma: what the name or the content says, not only protocol 2+ headers
        "lz4-protocol-0": lz4.frame.compress(_print_pickle(0)),
        "lzma-protocol-0": lzma.compress(_print_pickle(0), format=lzma.FORMAT_ALONE),
    }[name]


def _corrupt_end(stream: bytes) -> bytes:
    return stream[:-4] + b"\x00" * 4


STREAM_CASES = [
    "xz-second-stream-corrupt-at-its-end",
    "xz-then-lzma-alone-props-0",
    "lzma-then-lzma-alone-props-0",
    "one-byte-xz-then-lzma-alone",
    "lz4-skippable-between",
    "lz4-one-byte-then-skippable",
    "bz2-then-magic-and-junk",
    "xz-then-magic-and-junk",
    "lzma-then-alone-header-and-junk",
    "lz4-protocol-0",
    "lzma-protocol-0",
]


@pytest.mark.parametrize("case", STREAM_CASES)
def test_compressed_streams_are_read_as_joblibs_readers_read_them(case: str, tmp_path: Path) -> None:
    data = _streams_case(case)
    path = tmp_path / "model.joblib"
    path.write_bytes(data)
    assert MARKER in _load_output(path, JOBLIB_LOAD)
    suffix = ".lz4" if case.startswith("lz4") else ".lzma" if case.startswith("lzma") else ".xz"
    for file_name in ("model.joblib", "model", "model.pkl" + suffix):
        _, out, _ = scan_bytes(data, file_name)
        errors = [f.message for f in out.findings if f.severity is Severity.ERROR]
        assert any("builtins.exec called" in m for m in errors), (file_name, errors)
        if "junk" in case:  # the trailing bytes are ignored by the reader: nothing is unreadable
            assert not [m for m in errors if "corrupt" in m or "cannot be fully" in m], errors


def test_a_payload_before_a_corrupt_tail_is_named(tmp_path: Path) -> None:
    """A reader hands on what it decompressed before a corrupt tail (joblib reads 1 MiB ahead): the payload
    at the start runs, then the load fails. aibom reports the stream as corrupt and names the payload."""
    import lz4.frame

    rng = np.random.default_rng(0)
    pickled = b"\x80\x02(" + EXEC + b"0B" + struct.pack("<I", 3_000_000) + rng.bytes(3_000_000) + b"l."
    data = bytearray(lz4.frame.compress(pickled, content_checksum=True))
    data[-1] ^= 0xFF
    path = tmp_path / "model.joblib"
    path.write_bytes(bytes(data))
    assert MARKER in _load_output(path, JOBLIB_LOAD)
    _, out, _ = scan_bytes(bytes(data), "model.joblib")
    messages = [f.message for f in out.findings if f.severity is Severity.ERROR]
    assert any("builtins.exec called" in m for m in messages), messages
    assert any("lz4 stream is corrupt" in m for m in messages), messages


def test_many_tiny_streams_are_bounded() -> None:
    """Each stream after another costs a small read, and more than MAX_STREAMS of them are unreadable."""
    import bz2
    import time

    from aibom.containers import MAX_STREAMS

    empty = bz2.compress(b"")
    data = bz2.compress(b"\x80\x02") + empty * (MAX_STREAMS + 5) + bz2.compress(EXEC + b".")
    started = time.monotonic()
    _, out, _ = scan_bytes(data, "model.joblib")
    elapsed = time.monotonic() - started
    messages = [f.message for f in out.findings if f.severity is Severity.ERROR]
    assert any(f"more than {MAX_STREAMS} concatenated streams" in m for m in messages), messages
    assert elapsed < 60, elapsed  # a hang guard, not a benchmark (a few tenths of a second here)
    fewer = bz2.compress(b"\x80\x02") + empty * 500 + bz2.compress(EXEC + b".")
    assert any("builtins.exec called" in m for m in _errors(fewer, "model.joblib"))


def _zip_of_zeros(sizes: dict[str, int]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, size in sizes.items():
            z.writestr(name, b"\x93NUMPY\x01\x00v\x00" + b"\x00" * size)
    return buf.getvalue()


def test_a_zip_after_a_files_start_does_not_use_up_its_budget() -> None:
    """The start (what pickle.load and joblib.load read) and the zip (what zip readers open) each get the
    file's decompression budget: a zip that uses it all must not leave the compressed pickle unread."""
    import bz2

    from aibom.containers import Blob, Budget
    from aibom.pickles.inspect import Inspector

    data = bz2.compress(_print_pickle(2)) + _zip_of_zeros({"w0.npy": 999_980})  # leaves 10 bytes
    ins = Inspector(Budget(1_000_000))
    ins.blob(Blob.of_bytes(data), "", 0, "model.pkl")
    assert any("builtins.exec called" in p.message for p in ins.report.unsafe), ins.report


def test_a_self_extracting_zip_under_a_loose_pickle_name_is_not_a_broken_pickle() -> None:
    """'M' (an executable's stub) is a pickle opcode, and .bin a loose pickle name: the start of a file with
    a zip at its end counts as a pickle by its content only."""
    import io
    import zipfile

    buf = io.BytesIO()
    buf.write(b"MZ\x90\x00" + bytes(60) + b"This program cannot be run in DOS mode.\r\n" + bytes(400))
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("payload.txt", "hello")
    for name in ("installer.bin", "setup.data", "tool.sav"):
        _, out, _ = scan_bytes(buf.getvalue(), name)
        assert not [f.message for f in out.findings if f.severity is Severity.ERROR], name


def _sb(text: str) -> bytes:
    return b"\x8c" + bytes([len(text)]) + text.encode()


STOPS_HERE = b"]K\x07aK\x00K\x09s0"  # SETITEM into a list: CPython accepts it, aibom's machine stops
CALL_EXEC = b"(" + _str(f"print({MARKER!r})") + b"tR"
NAMES = _sb("builtins") + _sb("exec")
PICKLE_LOAD = "pickle.load(open(sys.argv[1], 'rb'))"
TORCH_LOAD = "import torch; torch.load(sys.argv[1], weights_only=False)"
TORCH_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
SECOND_REVIEW = {
    # the syntactic pass models what each opcode pops: POP, DUP, a tuple or BUILD between the names
    "names-popped-between": (_polyglot(STOPS_HERE + NAMES + b"N0\x93" + CALL_EXEC), PICKLE_LOAD),
    "names-past-a-build": (_polyglot(STOPS_HERE + NAMES + b"Nb\x93" + CALL_EXEC), PICKLE_LOAD),
    # MEMOIZE numbers entries by the memo's length, which a PUT over an existing index does not change
    "memoize-after-a-put-over-an-index": (
        _polyglot(
            STOPS_HERE + b"Np0\n0" + _sb("builtins") + b"\x94" + _sb("exec") + b"\x94" + b"00h\x01h\x02\x93"
            + CALL_EXEC,
            prefix=b"](" + _sb("x") + b"q\x00e0",
        ),
        PICKLE_LOAD,
    ),
    # a dotted name called, a pager that runs a shell command, a name made by a call, an extension code
    "dotted-name": (_polyglot(b"\x80\x04" + _global("dataclasses", "builtins.exec") + CALL_EXEC), PICKLE_LOAD),
    "pydoc-pipepager": (
        _polyglot(_global("pydoc", "pipepager") + b"(" + _str("x") + _str(f"echo {MARKER}") + b"tR"),
        PICKLE_LOAD,
    ),
    "name-made-by-a-call": (
        _polyglot(_sb("builtins") + _global("builtins", "str") + b"(C\x04exec" + _str("ascii") + b"tR\x93" + CALL_EXEC),
        PICKLE_LOAD,
    ),
    "extension-registered-then-used": (
        _polyglot(
            _global("copyreg", "_inverted_registry") + b"K\xc8" + _sb("builtins") + _sb("exec") + b"\x86s0\x82\xc8"
            + CALL_EXEC
        ),
        PICKLE_LOAD,
    ),
    # torch.load reads a stream whose first pickle is its magic number as a legacy file, pickle after pickle
    "torch-magic-in-the-array": (_polyglot(TORCH_MAGIC + b"." + b"\x80\x02" + EXEC + b"."), TORCH_LOAD),
    # an error inside an object array's pickle: joblib reads it with a fresh memo and goes on
    "error-in-an-object-arrays-pickle": (
        b"\x80\x02](" + _str("collections") + b"q\x00" + _str("OrderedDict") + b"q\x01e0"
        + _wrapper(_state(_shape(1), _dtype("O8", (-1, 63))))
        + b"\x80\x04" + _sb("builtins") + b"\x94" + _sb("exec") + b"\x94" + STOPS_HERE + b"h\x00h\x01\x93"
        + CALL_EXEC + b"..",
        JOBLIB_LOAD,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SECOND_REVIEW))
def test_payloads_a_second_review_hid_are_reported(name: str, tmp_path: Path) -> None:
    data, loader = SECOND_REVIEW[name]
    path = tmp_path / "model.pkl"
    path.write_bytes(data)
    assert MARKER in _load_output(path, loader)
    errors = _errors(data, path.name)
    expected = {
        "pydoc-pipepager": "pydoc.pipepager",
        "name-made-by-a-call": "computed by a call",
        "extension-registered-then-used": "copyreg._inverted_registry",
    }
    assert any(expected.get(name, "builtins.exec") in m for m in errors), errors


def test_a_legacy_torch_files_later_pickles_are_never_trailing_data(tmp_path: Path) -> None:
    """torch.load reads five pickles from a legacy file: one that fails early is not trailing data."""
    data = b"\x80\x02" + TORCH_MAGIC + b"." + _sb("a") + STOPS_HERE + b"\x80\x02" + EXEC + b"."
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    assert MARKER in _load_output(path, TORCH_LOAD)
    assert any("builtins.exec" in m for m in _errors(data, path.name)), _errors(data, path.name)


THIRD_REVIEW = {
    # a standard-library callable that runs code, not on the gadget list
    "doctest-debug-script": (
        _polyglot(_global("doctest", "debug_script") + b"(" + _str(f"print({MARKER!r})") + b"\x88tR" + b"N0" * 5),
        PICKLE_LOAD,
        "doctest.debug_script",
    ),
    # past where the view stops: a name made by calling str, a called dotted name
    "name-made-by-a-call-past-a-stop": (
        _polyglot(STOPS_HERE + _sb("builtins") + _global("builtins", "str") + b"(C\x04exec" + _str("ascii") + b"tR\x93"
                  + CALL_EXEC),
        PICKLE_LOAD,
        "computed by a call",
    ),
    "dotted-name-past-a-stop": (
        _polyglot(STOPS_HERE + b"\x80\x04" + _global("dataclasses", "builtins.exec") + CALL_EXEC),
        PICKLE_LOAD,
        "dataclasses.builtins.exec called",
    ),
    # torch's magic number made by a call, or after a stop; a legacy file not starting with aibom's prefix
    "torch-magic-made-by-int": (
        _polyglot(_global("builtins", "int") + b"(" + _str(hex(0x1950A86A20F9469CFC6C)) + _int(16) + b"tR."
                  + b"\x80\x02" + EXEC + b"."),
        TORCH_LOAD,
        "builtins.exec",
    ),
    "torch-magic-past-a-stop": (_polyglot(STOPS_HERE + TORCH_MAGIC + b"." + b"\x80\x02" + EXEC + b"."), TORCH_LOAD,
                                "builtins.exec"),
    "legacy-torch-with-protocol-3": (b"\x80\x03" + TORCH_MAGIC + b"." + STOPS_HERE + b"\x80\x02" + EXEC + b".",
                                     TORCH_LOAD, "builtins.exec"),
    "legacy-torch-magic-as-an-int-line": (b"I0x1950a86a20f9469cfc6c\n." + STOPS_HERE + b"\x80\x02" + EXEC + b".",
                                          TORCH_LOAD, "builtins.exec"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(THIRD_REVIEW))
def test_payloads_a_third_review_hid_are_reported(name: str, tmp_path: Path) -> None:
    data, loader, expected = THIRD_REVIEW[name]
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    assert MARKER in _load_output(path, loader)
    errors = _errors(data, path.name)
    assert any(expected in m for m in errors), errors


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_real_object_arrays_recalled_by_the_view_are_not_findings(protocol: int) -> None:
    """pickle.load runs an object array's pickle with the outer memo, so its STACK_GLOBAL gets values from
    before the array that are no strings and fails: nothing is imported, nothing is to report (a first
    version called those operands 'computed by a call')."""
    import io

    import joblib

    for obj in (np.array([1, "a", None], dtype=object), {"x": np.array([None, 2.5], dtype=object)}):
        buf = io.BytesIO()
        joblib.dump(obj, buf, protocol=protocol)
        _, out, _ = scan_bytes(buf.getvalue(), "model.joblib")
        assert not [f.message for f in out.findings], [f.message for f in out.findings]
