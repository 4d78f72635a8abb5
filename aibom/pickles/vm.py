"""A pickle machine simulator: runs the opcodes of protocols 0-5 over symbolic values, never executing them.

It records every import (GLOBAL, INST, STACK_GLOBAL, EXT*), every call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST),
every BUILD and every persistent id, with byte offsets. Values are plain Python data or the records below;
nothing from the stream is ever imported or called. Every length, count and size the input declares is
bounded, and all processing is iterative (no recursion over the input's nesting).
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from . import opscan
from .reader import MAX_LINE, Reader, Truncated

MAX_KEEP = 64 * 1024  # strings/bytes longer than this are skipped and kept as Opaque
MAX_STACK = 500_000
MAX_MEMO = 2_000_000
MAX_OPS = 10_000_000  # about 4-7 s of simulation at worst (2026, 2 cores); real checkpoints need far fewer
MAX_ITEMS = 10_000_000  # elements placed into containers, all pickles together
MAX_PICKLES = 256
MAX_NESTED = 4  # pickles nested inside pickles (joblib object arrays)


class PickleError(Exception):
    """The stream is not a valid pickle at `offset`."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(eq=False)
class GlobalRef:
    """An import the loader would perform. `module`/`name` are None when they cannot be known statically."""

    module: str | None
    name: str | None
    offset: int
    opcode: str
    called: bool = False
    detail: str | None = None

    @property
    def qualname(self) -> str:
        if self.module is None or self.name is None:
            return f"<unresolved: {self.detail or self.opcode}>"
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class CallRec:
    """The result of calling `func` (REDUCE, NEWOBJ, OBJ, INST ...); `state` is what BUILD gave it."""

    func: Any
    args: Any
    offset: int
    opcode: str
    state: Any = None


@dataclass(eq=False)
class PersId:
    """A persistent id: the loader's persistent_load(pid) decides what it is (torch storages)."""

    pid: Any
    offset: int


@dataclass(eq=False)
class Opaque:
    """A value kept only by description (a long string, an out-of-band buffer, a huge integer)."""

    what: str
    size: int = 0
    offset: int | None = None  # where its bytes start in the stream, for strings/bytes


@dataclass(eq=False)
class PDict:
    items: list[tuple[Any, Any]] = field(default_factory=list)


@dataclass(eq=False)
class PSet:
    items: list[Any] = field(default_factory=list)


@dataclass
class Finding:
    """Something the machine itself noticed (an indirect call, BUILD on an import ...)."""

    kind: str
    offset: int
    message: str


@dataclass
class Analysis:
    """Everything seen in one stream of pickles."""

    globals: list[GlobalRef] = field(default_factory=list)
    calls: list[CallRec] = field(default_factory=list)
    persistent_ids: list[PersId] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    pickles: int = 0
    protocol: int = 0
    opcodes: int = 0
    end: int = 0  # offset just after the last STOP
    results: list[Any] = field(default_factory=list)
    error: str | None = None
    error_offset: int | None = None
    #: imports seen only when the stream is loaded with pickle.load instead of joblib.load: that reads the
    #: first joblib array's bytes as opcodes, where joblib (and the analysis above) skips them as data
    plain_load: list[GlobalRef] = field(default_factory=list)
    #: imports read syntactically past the error, where CPython's unpickler may go on (opscan)
    past_error: list[GlobalRef] = field(default_factory=list)
    #: imports of the pickles torch.load reads after a first array whose bytes begin its legacy header
    torch_load: list[GlobalRef] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.error is None


class _Mark:
    pass


#: A dtype string as numpy writes it in a dtype's pickle: byte order, type character, size in bytes (in
#: characters for "U"), datetime unit.
_DESCR = re.compile(r"[<>|=]?([?a-zA-Z])(\d*)(?:\[\w+\])?")
#: Item sizes numpy gives the fixed-size types, by type character; their pickled state cannot change them.
_FIXED_SIZES = {
    "b": {"1": 1}, "?": {"": 1, "1": 1}, "i": {"1": 1, "2": 2, "4": 4, "8": 8}, "u": {"1": 1, "2": 2, "4": 4, "8": 8},
    "f": {"2": 2, "4": 4, "8": 8, "16": 16}, "c": {"8": 8, "16": 16, "32": 32}, "M": {"8": 8}, "m": {"8": 8},
}  # fmt: skip


def _last(state: PDict, key: str) -> Any:
    """The value a dict built by the pickle holds for `key`: the last one set (None when absent)."""
    value = None
    for k, v in state.items:
        if k == key:
            value = v
    return value


def _dtype_layout(dtype: Any) -> tuple[int, bool] | None:
    """(item size, holds objects) of a `numpy.dtype(descr, ...)` built by the pickle, as numpy computes them,
    or None when aibom cannot be sure. A disagreement with numpy here would let joblib read a different
    number of bytes than aibom skips, so anything a real dtype's pickle never holds is refused: a fixed-size
    type whose state claims another size, an object flag that contradicts the type (numpy versions differ on
    which wins), a flexible type (S, U, V) without a positive size. numpy takes a flexible type's size from
    the state, and the object flag from the state for every type."""
    if not (isinstance(dtype, CallRec) and isinstance(dtype.func, GlobalRef)):
        return None
    if (dtype.func.module, dtype.func.name) != ("numpy", "dtype"):
        return None
    args, state = dtype.args, dtype.state
    if not (isinstance(args, tuple) and args and isinstance(args[0], str)):
        return None
    m = _DESCR.fullmatch(args[0])
    if m is None:
        return None
    kind, digits = m[1], m[2]
    objects = kind == "O"
    elsize = None
    if state is not None:
        # versions 3 and 4 (with datetime metadata) as numpy writes them; older ones recompute the flags
        if not (isinstance(state, tuple) and (state[:1], len(state)) in (((3,), 8), ((4,), 9))):
            return None
        if type(state[5]) is not int or type(state[7]) is not int:
            return None
        elsize = state[5]
        flagged = bool(state[7] & 1)
        if flagged != objects and kind != "V":  # only a structured type may hold objects by its flag
            return None
        objects = flagged
    if kind in "SUVa":
        if elsize is None:
            elsize = int(digits) * (4 if kind == "U" else 1) if digits else 0
        return (elsize, objects) if elsize > 0 else None
    size = 8 if kind == "O" and digits in ("", "8") else _FIXED_SIZES.get(kind, {}).get(digits)
    if size is None or elsize not in (None, -1, size):
        return None
    return size, objects


_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_RECONSTRUCTORS = {("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor")}
_OBJECT = {("builtins", "object"), ("__builtin__", "object")}


def _names(value: Any) -> tuple[str | None, str | None] | None:
    return (value.module, value.name) if isinstance(value, GlobalRef) else None


def _wrapper_made_by(rec: CallRec) -> str | None:
    """How a joblib NumpyArrayWrapper was made, or None if `rec` is not one: "new" when only its BUILD state
    sets its attributes (NEWOBJ, INST/OBJ without arguments, `copyreg._reconstructor(cls, object, state)`
    as protocols 0 and 1 write it), "init" when an __init__ ran (a call with arguments, a reconstructor
    with another base), whose defaults the state then only updates."""
    func, args = _names(rec.func), rec.args
    if func == _WRAPPER:
        if rec.opcode in ("NEWOBJ", "NEWOBJ_EX") or (rec.opcode in ("INST", "OBJ") and args == ()):
            return "new"
        return "init"
    if func in _RECONSTRUCTORS and isinstance(args, tuple) and len(args) == 3 and _names(args[0]) == _WRAPPER:
        # with `object` as the base the third argument is not used; another base's __init__ runs
        return "new" if _names(args[1]) in _OBJECT else "init"
    return None


def _joblib_array_bytes(wrapper: CallRec) -> tuple[int, bool, bool] | None:
    """(data bytes, has objects, has padding) of a joblib NumpyArrayWrapper from its BUILD state, as joblib
    reads them: the attributes are the state dict's last values."""
    state = wrapper.state
    if not isinstance(state, PDict):
        return None
    shape = _last(state, "shape")
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        return None
    layout = _dtype_layout(_last(state, "dtype"))
    if layout is None:
        return None
    elsize, has_objects = layout
    count = 1
    for d in shape:
        count *= d
    return count * elsize, has_objects, _last(state, "numpy_array_alignment_bytes") is not None


class Machine:
    """Simulates `pickle.load` repeatedly over one stream, collecting an Analysis."""

    def __init__(self, reader: Reader, analysis: Analysis | None = None, depth: int = 0, joblib: bool = True) -> None:
        self.r = reader
        self.a = analysis or Analysis()
        self.depth = depth
        self.items = 0
        self.joblib = joblib  # False: a plain pickle.load, which reads no array bytes after a wrapper's BUILD
        self.forked = False  # whether the plain-load view of this stream has been taken
        self.frame_end = 0  # where the last FRAME's bytes end (the unpickler has read them all by then)

    # -- helpers ---------------------------------------------------------------------------------
    def _push(self, value: Any) -> None:
        if len(self.stack) >= MAX_STACK:
            raise PickleError(f"stack deeper than {MAX_STACK}", self.op_pos)
        self.stack.append(value)

    def _pop(self) -> Any:
        if not self.stack:
            raise PickleError("pop from an empty stack", self.op_pos)
        return self.stack.pop()

    def _pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise PickleError("no MARK on the stack", self.op_pos)
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _count(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise PickleError(f"more than {MAX_ITEMS} container elements", self.op_pos)

    def _blob(self, n: int, kind: str) -> Any:
        if n < 0:
            raise PickleError(f"negative {kind} length", self.op_pos)
        if n > MAX_KEEP:
            start = self.r.pos
            self.r.skip(n)
            return Opaque(kind, n, start)
        return self.r.take(n)

    def _text(self, n: int) -> Any:
        raw = self._blob(n, "str")
        if isinstance(raw, Opaque):
            return raw
        return raw.decode("utf-8", "surrogatepass")

    def _memo_put(self, idx: int) -> None:
        if not self.stack:
            raise PickleError("memoize with an empty stack", self.op_pos)
        if idx < 0:
            raise PickleError("negative memo index", self.op_pos)
        if idx not in self.memo and len(self.memo) >= MAX_MEMO:
            raise PickleError(f"memo larger than {MAX_MEMO}", self.op_pos)
        self.memo[idx] = self.stack[-1]

    def _memo_get(self, idx: int) -> None:
        if idx not in self.memo:
            raise PickleError(f"memo key {idx} is not defined", self.op_pos)
        self._push(self.memo[idx])

    def _global(self, module: Any, name: Any, opcode: str) -> GlobalRef:
        if isinstance(module, str) and isinstance(name, str):
            ref = GlobalRef(module, name, self.op_pos, opcode)
        else:
            computed = _may_be_a_string(module) and _may_be_a_string(name)
            how = COMPUTED_NAME if computed else "not strings"
            ref = GlobalRef(None, None, self.op_pos, opcode, detail=f"{opcode} operands are {how}")
        self.a.globals.append(ref)
        return ref

    def _call(self, func: Any, args: Any, opcode: str) -> None:
        if (
            isinstance(func, PersId)
            and isinstance(func.pid, tuple)
            and len(func.pid) >= 2
            and func.pid[0] == "module"
            and isinstance(func.pid[1], GlobalRef)
        ):
            # legacy torch files pickle module classes as persistent ids ("module", cls, file, source);
            # torch's persistent_load returns cls, so the call is a call of that import
            func = func.pid[1]
        rec = CallRec(func, args, self.op_pos, opcode)
        if isinstance(func, GlobalRef):
            func.called = True
            # an import handed to a call may be called by it (copyreg._reconstructor calls base.__init__,
            # torch's _rebuild_from_type_v2 calls func): count it as called
            for arg in args if isinstance(args, tuple) else ():
                if isinstance(arg, GlobalRef):
                    arg.called = True
        else:
            self.a.notes.append(
                Finding("indirect-call", self.op_pos, f"{opcode} calls a computed object ({_describe(func)})")
            )
        self.a.calls.append(rec)
        self._push(rec)

    def _line(self) -> bytes:
        try:
            return self.r.line(MAX_LINE)
        except ValueError as exc:
            raise PickleError(str(exc), self.op_pos) from None

    def _int_line(self) -> int:
        text = self._line().strip()
        try:
            return int(text.rstrip(b"L") or b"x", 10)
        except ValueError:
            raise PickleError(f"bad integer {text[:40]!r}", self.op_pos) from None

    # -- the main loop ---------------------------------------------------------------------------
    def run_one(self) -> Any:
        """Simulate one `pickle.load` from the reader's position up to and including STOP.

        The inner loop runs the opcodes that make up almost all of real pickles (small ints and strings,
        floats, constants, empty containers, MARK, POP, small tuples, memo puts and gets, SETITEM, APPEND, FRAME,
        protocol-0 lines) straight from the reader's window, while their operands lie in it and they cannot
        fail. Any other opcode, an operand past the window, and every error the machine reports go through
        the opcode's handler, which sees the reader just after the opcode byte; an invalid UTF-8 string is
        raised inline, with the reader where its handler would leave it.

        The inline stretch is bounded before it starts, so that its opcodes need not check the limits one by
        one: it stops 9 bytes before the window's end (every fixed-size operand then lies in the window), and
        after at most `room` opcodes, where `room` keeps the opcode count, both stacks, the memo and the
        container items within their limits (each opcode adds at most one entry to a stack or the memo, and
        at most two items).
        """
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.frame_end = 0
        return self._resume()

    def _resume(self) -> Any:
        """Run opcodes from the reader's position with the current stacks and memo, up to and including STOP."""
        r, a, dispatch, memo, inline, metastack = self.r, self.a, _DISPATCH, self.memo, _INLINE, self.metastack
        consts, missing, unpack_double = _CONSTANTS, _MISSING, _BIG_DOUBLE.unpack_from
        while True:
            window, base, stack = r.window, r.base, self.stack  # handlers (TUPLE, LIST, DICT ...) replace it
            i, end, ops, items = r.pos - base, len(window), a.opcodes, self.items
            size_end = r.size - base  # the declared end, which a longer source's window may pass
            lim = end - 9
            span = lim - i
            # the limits bind only near them: the sums below are a cheap test of `room < span` (the room
            # itself, with its min and max, is computed only then)
            if (
                ops + span > MAX_OPS
                or len(stack) + span > MAX_STACK
                or len(metastack) + span > MAX_STACK
                or len(memo) + span > MAX_MEMO
                or items + 2 * span > MAX_ITEMS
            ):
                lim = i + min(
                    MAX_OPS - ops,
                    MAX_STACK - max(len(stack), len(metastack)),
                    MAX_MEMO - len(memo),
                    (MAX_ITEMS - items) // 2,
                )
            if not inline or i < 0:
                lim = i
            while i < lim:
                op = window[i]
                if op == 0x4B:  # BININT1
                    stack.append(window[i + 1])
                    i += 2
                elif op == 0x94:  # MEMOIZE
                    if not stack:
                        break
                    memo[len(memo)] = stack[-1]
                    i += 1
                elif op == 0x8C or op == 0x58:  # SHORT_BINUNICODE, BINUNICODE
                    if op == 0x8C:
                        start = i + 2
                        stop = start + window[i + 1]
                    else:
                        start = i + 5
                        n = int.from_bytes(window[i + 1 : start], "little")
                        stop = start + n if n <= MAX_KEEP else end + 1
                    if stop > end:
                        break
                    try:
                        value = window[start:stop].decode("utf-8", "surrogatepass")
                    except ValueError:  # where and how the handler would stop
                        self.op_pos, r.pos, a.opcodes, self.items = base + i, base + stop, ops + 1, items
                        raise
                    stack.append(value)
                    i = stop
                    # protocols 2+ memoize every string: run the MEMOIZE or BINPUT that follows it here
                    if i < lim:
                        op = window[i]
                        if op == 0x94:
                            memo[len(memo)] = value
                            i += 1
                            ops += 1
                        elif op == 0x71:
                            memo[window[i + 1]] = value
                            i += 2
                            ops += 1
                elif op == 0x71:  # BINPUT
                    if not stack:
                        break
                    memo[window[i + 1]] = stack[-1]
                    i += 2
                elif op == 0x47:  # BINFLOAT
                    stack.append(unpack_double(window, i + 1)[0])
                    i += 9
                elif op == 0x70 or op == 0x49 or op == 0x56 or op == 0x46:  # PUT, INT, UNICODE, FLOAT
                    # the handler's line rule (a newline within MAX_LINE + 1 bytes, before the end), in the window
                    nl = window.find(b"\n", i + 1, size_end)
                    if nl < 0 or nl > i + 1 + MAX_LINE or (op == 0x70 and not stack):
                        break
                    line = window[i + 1 : nl]
                    try:
                        if op == 0x56:
                            value = line.decode("raw-unicode-escape")
                        elif op == 0x46:
                            value = float(line)
                        else:
                            text = line.strip()
                            if op == 0x49:
                                if text in (b"00", b"01"):
                                    value = text == b"01"
                                elif text.lstrip(b"+-")[:1] == b"0" and len(text.lstrip(b"+-")) > 1:
                                    break  # leading zeros (C reads octal): the handler's _c_int decides
                                else:
                                    value = int(text, 10)
                            else:
                                value = int(text.rstrip(b"L") or b"x", 10)  # PUT's index, as _int_line reads it
                    except ValueError:  # also UnicodeDecodeError: the handler reports it
                        break
                    if op != 0x70:
                        stack.append(value)
                    elif value >= 0:
                        memo[value] = stack[-1]
                    else:
                        break
                    i = nl + 1
                elif op == 0x73:  # SETITEM into a dict
                    if len(stack) < 3 or type(stack[-3]) is not PDict:
                        break
                    items += 2
                    stack[-3].items.append((stack[-2], stack[-1]))
                    del stack[-2:]
                    i += 1
                elif op == 0x61:  # APPEND to a list
                    if len(stack) < 2 or type(stack[-2]) is not list:
                        break
                    items += 1
                    stack[-2].append(stack.pop())
                    i += 1
                elif op == 0x30:  # POP (with an empty stack it takes the MARK: the handler does that)
                    if not stack:
                        break
                    stack.pop()
                    i += 1
                elif op in consts:  # NONE, NEWTRUE, NEWFALSE, EMPTY_TUPLE
                    stack.append(consts[op])
                    i += 1
                elif op == 0x28:  # MARK
                    metastack.append(stack)
                    stack = self.stack = []
                    i += 1
                elif op == 0x68:  # BINGET
                    value = memo.get(window[i + 1], missing)
                    if value is missing:
                        break
                    stack.append(value)
                    i += 2
                elif op == 0x7D or op == 0x5D:  # EMPTY_DICT, EMPTY_LIST
                    stack.append(PDict() if op == 0x7D else [])
                    i += 1
                elif 0x85 <= op <= 0x87:  # TUPLE1, TUPLE2, TUPLE3
                    k = op - 0x84
                    if len(stack) < k:
                        break
                    value = tuple(stack[-k:])
                    del stack[-k:]
                    stack.append(value)
                    i += 1
                elif op == 0x4A or op == 0x4D:  # BININT, BININT2
                    stop = i + (5 if op == 0x4A else 3)
                    stack.append(int.from_bytes(window[i + 1 : stop], "little", signed=op == 0x4A))
                    i = stop
                elif op == 0x95:  # FRAME: its size is checked, its bytes are read as opcodes
                    n = int.from_bytes(window[i + 1 : i + 9], "little")
                    if n > size_end - (i + 9):
                        break
                    i += 9
                    self.frame_end = base + i + n
                else:
                    break
                ops += 1
            r.pos, a.opcodes, self.items = base + i, ops, items
            pos = self.op_pos = r.pos
            a.opcodes += 1
            if a.opcodes > MAX_OPS:
                raise PickleError(f"more than {MAX_OPS} opcodes", pos)
            op = r.byte()
            handler = dispatch.get(op)
            if handler is None:
                raise PickleError(f"invalid opcode 0x{op:02x}", self.op_pos)
            if handler(self) is _STOP:
                if self.metastack:
                    raise PickleError("STOP inside an unclosed MARK", self.op_pos)
                return self._pop()

    def _build(self) -> None:
        state = self._pop()
        if not self.stack:
            raise PickleError("BUILD with an empty stack", self.op_pos)
        target = self.stack[-1]
        slots = state[1] if isinstance(state, tuple) and len(state) == 2 else None
        if isinstance(slots, PDict) and any(k == "__class__" for k, _ in slots.items):  # setattr: a new class
            self.a.notes.append(Finding("build-sets-class", self.op_pos, "BUILD sets an object's __class__"))
        if isinstance(target, CallRec):
            built_before = target.state is not None
            target.state = state
            # joblib reads an object array's nested pickle with a plain Unpickler: no arrays in it
            made = _wrapper_made_by(target) if self.joblib and self.depth == 0 else None
            if made is not None:
                if made != "new" or built_before:
                    # its attributes then also come from __init__ or an earlier state, merged
                    raise PickleError("joblib array wrapper made in a way aibom cannot size", self.op_pos)
                if self.r.pos < self.frame_end:  # joblib ends the frame before an array's bytes
                    raise PickleError("joblib array wrapper inside a pickle frame: aibom cannot size it", self.op_pos)
                self._joblib_array(target)
        elif isinstance(target, GlobalRef):
            self.a.notes.append(
                Finding("build-on-import", self.op_pos, f"BUILD sets attributes of the imported {target.qualname}")
            )
        elif isinstance(target, PersId):
            self.a.notes.append(Finding("build-on-persid", self.op_pos, "BUILD sets state of a persistent object"))

    def _joblib_array(self, wrapper: CallRec) -> None:
        """joblib writes the array's bytes (or, for object arrays, a whole pickle) right after this BUILD."""
        info = _joblib_array_bytes(wrapper)
        if info is None:
            raise PickleError("joblib array wrapper with a state aibom cannot size", self.op_pos)
        nbytes, has_objects, padded = info
        if not self.forked and (has_objects or padded or nbytes):
            self._plain_load_view()  # an object array's pickle too: pickle.load runs it with this memo
        if has_objects:
            if self.depth >= MAX_NESTED:
                raise PickleError("pickles nested too deeply", self.op_pos)
            inner = Machine(self.r, self.a, self.depth + 1)
            inner.items = self.items
            try:
                inner.run_one()
            except (PickleError, ValueError):
                if not self.a.past_error:  # joblib's inner unpickler, with its own memo, may go on
                    self.a.past_error = inner.read_past(inner.op_pos)
                raise
            self.items = inner.items
            if self.r.pos < inner.frame_end:  # joblib's inner unpickler drops the rest of its frame
                raise PickleError("object array's pickle stops inside its frame: aibom cannot size it", self.op_pos)
            return
        if padded:
            self.r.skip(self.r.byte())
        self.r.skip(nbytes)

    def read_past(self, pos: int) -> list[GlobalRef]:
        """The imports of the opcodes from `pos` on, read syntactically (opscan) within what is left of
        the opcode budget (they are charged to it), from this machine's memo and stack."""
        found, ops = opscan.imports_from(
            self.r.at(pos), max(0, MAX_OPS - self.a.opcodes), self.memo, [*self.metastack, self.stack], _to_model
        )
        self.a.opcodes += ops
        how = "(read on past where aibom's analysis stopped)"
        computed = f"STACK_GLOBAL operands are {COMPUTED_NAME}"
        return [
            GlobalRef(module, name, offset, f"{op} {how}", called, None if module is not None else computed)
            for module, name, offset, op, called in found
        ]

    def _plain_load_view(self) -> None:
        """What pickle.load, unlike joblib.load, runs at the stream's first array: its bytes read as opcodes,
        from this machine's state, until an error or STOP. Its imports, and the imports from before it that
        it calls, go to Analysis.plain_load. The view gets copies of this machine's imports and placeholders
        for its containers: it changes nothing here."""
        self.forked = True
        view = Machine(self.r.at(self.r.pos), Analysis(), self.depth, joblib=False)
        view.stack = [_inherit(v) for v in self.stack]
        view.metastack = [[_inherit(v) for v in level] for level in self.metastack]
        view.memo = _ViewMemo(self.memo)
        view.items, view.a.opcodes = self.items, self.a.opcodes
        # pickle.load stops at an error too: what ran before it is what counts
        stopped, result = False, None
        with contextlib.suppress(PickleError, Truncated, RecursionError, MemoryError, OverflowError, ValueError):
            result = view._resume()
            stopped = True
        seen = view.a.globals
        if not stopped:
            # where the view stops, CPython's unpickler may go on (aibom refuses things it accepts): the
            # opcodes from there are read syntactically for the names they import
            seen = seen + view.read_past(view.op_pos)
        elif _is_torch_magic(result) and view.r.pos < view.r.size:
            # torch.load takes a stream whose first pickle is its magic number for a legacy file and goes on
            # to its next pickles (protocol, system info, the data): they run in full. A call's result may
            # be the number too, but then the bytes may be data: judged as the view's own
            rest = analyse(view.r.at(view.r.pos), max_pickles=4, joblib=False, required=4)
            found = rest.globals + rest.past_error
            (self.a.plain_load if isinstance(result, CallRec) else self.a.torch_load).extend(found)
            view.a.opcodes += rest.opcodes
        called = [c.func for c in view.a.calls if isinstance(c.func, GlobalRef) and c.func not in seen]
        self.a.plain_load.extend(seen + called)  # its own imports, and those from before that it called
        self.a.opcodes = max(self.a.opcodes, view.a.opcodes)  # one budget for both readings


#: How an unresolved import's detail says its name was built by a str-making call (policy counts these).
COMPUTED_NAME = "computed by a call"


def _may_be_a_string(value: Any) -> bool:
    """Whether a STACK_GLOBAL operand may be an exact str at load time: a str, or what a str-making call
    returned (here or before the array; other call results and containers make the unpickler fail)."""
    if isinstance(value, str):
        return True
    origin = value.args[0] if isinstance(value, CallRec) and value.func is _TAKEN_OVER and value.args else value
    return _returned_by(origin, opscan.STR_MAKERS)


def _returned_by(value: Any, makers: frozenset[tuple[str, str]]) -> bool:
    """Whether `value` is what calling one of `makers` (allowlisted (module, name) pairs) returned."""
    func = value.func if isinstance(value, CallRec) else None
    return isinstance(func, GlobalRef) and (func.module, func.name) in makers


def _to_model(value: Any) -> Any:
    """A machine value as the syntactic pass keeps it: strings, ints, imports and what calls returned."""
    if isinstance(value, str | int):
        return value
    if isinstance(value, GlobalRef):
        return opscan.Name(value.module, value.name, value.offset, value.opcode, False)
    if isinstance(value, CallRec):
        if value.func is _TAKEN_OVER:
            return _to_model(value.args[0]) if value.args else None
        return opscan.Call(_to_model(value.func))
    return None


def _describe(value: Any) -> str:
    if isinstance(value, CallRec):
        func = value.func
        return f"the result of calling {func.qualname}" if isinstance(func, GlobalRef) else "a call result"
    if isinstance(value, GlobalRef):
        return value.qualname
    return type(value).__name__


#: What a container the plain-load view took over stands for: the view must not change the machine's
#: objects, yet pickle.load appends and sets items in them and goes on (as the machine does with an object).
_TAKEN_OVER = Opaque("value from before the array")
_KEPT = (str, int, float, bytes, type(None))


class _ViewMemo(dict):  # type: ignore[type-arg]
    """The plain-load view's memo: its own entries over the machine's, which it reads as `_inherit` copies
    (the machine's memo is neither copied, often hundreds of entries for one view that ends in a few
    opcodes, nor changed)."""

    def __init__(self, under: dict[int, Any]) -> None:
        super().__init__()
        self.under = under
        self.added = 0  # own keys the machine's memo lacks

    def __setitem__(self, key: int, value: Any) -> None:
        if not dict.__contains__(self, key) and key not in self.under:
            self.added += 1
        dict.__setitem__(self, key, value)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.under

    def __getitem__(self, key: int) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return _inherit(self.under[key])

    def get(self, key: int, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default  # noqa: SIM401 (self.get is this method)

    def __len__(self) -> int:
        return len(self.under) + self.added


def _inherit(value: Any) -> Any:
    if isinstance(value, GlobalRef):
        return dataclasses.replace(value)  # the view may mark it called; the machine's own stays as it was
    if isinstance(value, _KEPT):
        return value
    return CallRec(_TAKEN_OVER, (value,), 0, "taken over")  # the original, read only by _may_be_a_string


_STOP = object()
_DISPATCH: dict[int, Any] = {}


def _op(code: bytes):  # type: ignore[no-untyped-def]
    def deco(fn):  # type: ignore[no-untyped-def]
        _DISPATCH[code[0]] = fn
        return fn

    return deco


def _u(fmt: str, data: bytes) -> int:
    return int(struct.unpack(fmt, data)[0])


_BIG_DOUBLE = struct.Struct(">d")
_CONSTANTS: dict[int, Any] = {0x4E: None, 0x88: True, 0x89: False, 0x29: ()}  # NONE, NEWTRUE, NEWFALSE, EMPTY_TUPLE
#: Whether the machine's inner loop runs the commonest opcodes itself (tests turn it off to run every opcode
#: through its handler).
_INLINE = True
_MISSING = object()
assert MAX_KEEP >= 255, "SHORT_BINUNICODE runs inline unchecked: its strings must never be Opaque"


# fmt: off
@_op(b"(")
def _mark(m: Machine) -> None:
    if len(m.metastack) >= MAX_STACK:
        raise PickleError("too many nested MARKs", m.op_pos)
    m.metastack.append(m.stack)
    m.stack = []

@_op(b".")
def _stop(m: Machine) -> object:
    return _STOP

@_op(b"0")
def _pop_op(m: Machine) -> None:
    if m.stack:
        m.stack.pop()
    else:
        m._pop_mark()

@_op(b"1")
def _pop_mark_op(m: Machine) -> None:
    m._pop_mark()

@_op(b"2")
def _dup(m: Machine) -> None:
    if not m.stack:
        raise PickleError("DUP with an empty stack", m.op_pos)
    m._push(m.stack[-1])

@_op(b"F")
def _float(m: Machine) -> None:
    text = m._line()
    try:
        m._push(float(text))
    except ValueError:
        raise PickleError(f"bad float {text[:40]!r}", m.op_pos) from None

@_op(b"I")
def _int(m: Machine) -> None:
    text = m._line().strip()
    if text in (b"00", b"01"):
        m._push(text == b"01")
        return
    m._push(_c_int(text, m.op_pos))

def _c_int(text: bytes, pos: int) -> int:
    """An INT or LONG line read leniently: what either unpickler accepts is a number (C's strtol in base 0
    reads 010 as octal 8, which Python's int(..., 0) refuses; 0x10 is 16 to both)."""
    if re.fullmatch(rb"\s*[+-]?0[0-7]+\s*", text):
        return int(text, 8)
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 10)  # leading zeros before an 8 or 9
        except ValueError:
            raise PickleError(f"bad integer {text[:40]!r}", pos) from None

@_op(b"L")
def _long(m: Machine) -> None:
    text = m._line().strip()
    m._push(_c_int(text[:-1] if text.endswith(b"L") else text, m.op_pos))  # both unpicklers read base 0

@_op(b"J")
def _binint(m: Machine) -> None:
    m._push(_u("<i", m.r.take(4)))

@_op(b"K")
def _binint1(m: Machine) -> None:
    m._push(m.r.byte())

@_op(b"M")
def _binint2(m: Machine) -> None:
    m._push(_u("<H", m.r.take(2)))

@_op(b"\x8a")
def _long1(m: Machine) -> None:
    n = m.r.byte()
    m._push(int.from_bytes(m.r.take(n), "little", signed=True))

@_op(b"\x8b")
def _long4(m: Machine) -> None:
    n = _u("<i", m.r.take(4))
    if n < 0:
        raise PickleError("negative LONG4 length", m.op_pos)
    if n > 4096:
        m.r.skip(n)
        m._push(Opaque("int", n))
    else:
        m._push(int.from_bytes(m.r.take(n), "little", signed=True))

@_op(b"G")
def _binfloat(m: Machine) -> None:
    m._push(struct.unpack(">d", m.r.take(8))[0])

@_op(b"N")
def _none(m: Machine) -> None:
    m._push(None)

@_op(b"\x88")
def _true(m: Machine) -> None:
    m._push(True)

@_op(b"\x89")
def _false(m: Machine) -> None:
    m._push(False)

@_op(b"S")
def _string(m: Machine) -> None:
    text = m._line().rstrip()
    if len(text) < 2 or text[0] != text[-1] or text[:1] not in (b"'", b'"'):
        raise PickleError("STRING argument is not quoted", m.op_pos)
    try:
        m._push(codecs.escape_decode(text[1:-1])[0].decode("latin-1"))
    except ValueError:
        raise PickleError("bad STRING escape", m.op_pos) from None

@_op(b"V")
def _unicode(m: Machine) -> None:
    try:
        m._push(m._line().decode("raw-unicode-escape"))
    except UnicodeDecodeError:
        raise PickleError("bad UNICODE argument", m.op_pos) from None

@_op(b"T")
def _binstring(m: Machine) -> None:
    raw = m._blob(_u("<i", m.r.take(4)), "str")
    m._push(raw if isinstance(raw, Opaque) else raw.decode("latin-1"))

@_op(b"U")
def _short_binstring(m: Machine) -> None:
    m._push(m.r.take(m.r.byte()).decode("latin-1"))

@_op(b"X")
def _binunicode(m: Machine) -> None:
    m._push(m._text(_u("<I", m.r.take(4))))

@_op(b"\x8c")
def _short_binunicode(m: Machine) -> None:
    m._push(m._text(m.r.byte()))

@_op(b"\x8d")
def _binunicode8(m: Machine) -> None:
    m._push(m._text(_u("<Q", m.r.take(8))))

@_op(b"B")
def _binbytes(m: Machine) -> None:
    m._push(m._blob(_u("<I", m.r.take(4)), "bytes"))

@_op(b"C")
def _short_binbytes(m: Machine) -> None:
    m._push(m.r.take(m.r.byte()))

@_op(b"\x8e")
def _binbytes8(m: Machine) -> None:
    m._push(m._blob(_u("<Q", m.r.take(8)), "bytes"))

@_op(b"\x96")
def _bytearray8(m: Machine) -> None:
    m._push(m._blob(_u("<Q", m.r.take(8)), "bytearray"))

@_op(b"\x97")
def _next_buffer(m: Machine) -> None:
    m._push(Opaque("out-of-band buffer"))

@_op(b"\x98")
def _readonly_buffer(m: Machine) -> None:
    if not m.stack:
        raise PickleError("READONLY_BUFFER with an empty stack", m.op_pos)

@_op(b"\x80")
def _proto(m: Machine) -> None:
    proto = m.r.byte()
    if proto > 5:
        raise PickleError(f"unsupported pickle protocol {proto}", m.op_pos)
    m.a.protocol = max(m.a.protocol, proto)

@_op(b"\x95")
def _frame(m: Machine) -> None:
    size = _u("<Q", m.r.take(8))
    if size > m.r.size - m.r.pos:
        raise PickleError(f"FRAME of {size} bytes runs past the end", m.op_pos)
    m.frame_end = m.r.pos + size

@_op(b")")
def _empty_tuple(m: Machine) -> None:
    m._push(())

@_op(b"t")
def _tuple(m: Machine) -> None:
    items = m._pop_mark()
    m._count(len(items))
    m._push(tuple(items))

@_op(b"\x85")
def _tuple1(m: Machine) -> None:
    m._push((m._pop(),))

@_op(b"\x86")
def _tuple2(m: Machine) -> None:
    b, a = m._pop(), m._pop()
    m._push((a, b))

@_op(b"\x87")
def _tuple3(m: Machine) -> None:
    c, b, a = m._pop(), m._pop(), m._pop()
    m._push((a, b, c))

@_op(b"]")
def _empty_list(m: Machine) -> None:
    m._push([])

@_op(b"l")
def _list(m: Machine) -> None:
    items = m._pop_mark()
    m._count(len(items))
    m._push(items)

@_op(b"}")
def _empty_dict(m: Machine) -> None:
    m._push(PDict())

@_op(b"d")
def _dict(m: Machine) -> None:
    items = m._pop_mark()
    if len(items) % 2:
        raise PickleError("DICT with an odd number of items", m.op_pos)
    m._count(len(items))
    m._push(PDict(list(zip(items[::2], items[1::2], strict=True))))

@_op(b"\x8f")
def _empty_set(m: Machine) -> None:
    m._push(PSet())

@_op(b"\x91")
def _frozenset(m: Machine) -> None:
    items = m._pop_mark()
    m._count(len(items))
    m._push(PSet(items))

@_op(b"a")
def _append(m: Machine) -> None:
    value = m._pop()
    _extend(m, [value])

@_op(b"e")
def _appends(m: Machine) -> None:
    _extend(m, m._pop_mark())

def _extend(m: Machine, values: list[Any]) -> None:
    if not m.stack:
        raise PickleError("APPEND with an empty stack", m.op_pos)
    if not values:
        return  # the C unpickler does nothing when there is nothing to append, whatever the target
    m._count(len(values))
    target = m.stack[-1]
    if isinstance(target, list):
        target.extend(values)
    elif not isinstance(target, CallRec):
        raise PickleError(f"APPEND to a {type(target).__name__}", m.op_pos)

@_op(b"\x90")
def _additems(m: Machine) -> None:
    items = m._pop_mark()
    if not m.stack:
        raise PickleError("ADDITEMS with an empty stack", m.op_pos)
    if not items:
        return  # as for APPENDS
    m._count(len(items))
    target = m.stack[-1]
    if isinstance(target, PSet):
        target.items.extend(items)
    elif not isinstance(target, CallRec):
        raise PickleError(f"ADDITEMS to a {type(target).__name__}", m.op_pos)

@_op(b"s")
def _setitem(m: Machine) -> None:
    value, key = m._pop(), m._pop()
    _setitems(m, [key, value])

@_op(b"u")
def _setitems_op(m: Machine) -> None:
    items = m._pop_mark()
    if len(items) % 2:
        raise PickleError("SETITEMS with an odd number of items", m.op_pos)
    _setitems(m, items)

def _setitems(m: Machine, items: list[Any]) -> None:
    if not m.stack:
        raise PickleError("SETITEM with an empty stack", m.op_pos)
    if not items:
        return  # both unpicklers do nothing for an empty SETITEMS, whatever the target
    m._count(len(items))
    target = m.stack[-1]
    it = iter(items)  # callers pass an even number of items
    pairs = list(zip(it, it, strict=False))
    if isinstance(target, PDict):
        target.items.extend(pairs)
    elif isinstance(target, CallRec):
        # the object's own __setitem__ runs; keep the pairs as its contents for later reading
        if target.state is None or isinstance(target.state, PDict):
            target.state = target.state or PDict()
            target.state.items.extend(pairs)
    else:
        raise PickleError(f"SETITEM on a {type(target).__name__}", m.op_pos)

@_op(b"c")
def _global_op(m: Machine) -> None:
    module = m._line().decode("utf-8", "replace")
    name = m._line().decode("utf-8", "replace")
    m._push(m._global(module, name, "GLOBAL"))

@_op(b"\x93")
def _stack_global(m: Machine) -> None:
    name, module = m._pop(), m._pop()
    m._push(m._global(module, name, "STACK_GLOBAL"))

def _ext(m: Machine, code: int) -> None:
    ref = GlobalRef(None, None, m.op_pos, "EXT", detail=f"copyreg extension code {code}")
    m.a.globals.append(ref)
    m._push(ref)

@_op(b"\x82")
def _ext1(m: Machine) -> None:
    _ext(m, m.r.byte())

@_op(b"\x83")
def _ext2(m: Machine) -> None:
    _ext(m, _u("<H", m.r.take(2)))

@_op(b"\x84")
def _ext4(m: Machine) -> None:
    _ext(m, _u("<i", m.r.take(4)))

@_op(b"R")
def _reduce(m: Machine) -> None:
    args = m._pop()
    func = m._pop()
    m._call(func, args, "REDUCE")

@_op(b"\x81")
def _newobj(m: Machine) -> None:
    args = m._pop()
    cls = m._pop()
    m._call(cls, args, "NEWOBJ")

@_op(b"\x92")
def _newobj_ex(m: Machine) -> None:
    kwargs, args = m._pop(), m._pop()
    cls = m._pop()
    m._call(cls, (args, kwargs), "NEWOBJ_EX")

@_op(b"o")
def _obj(m: Machine) -> None:
    items = m._pop_mark()
    if not items:
        raise PickleError("OBJ without a class", m.op_pos)
    m._call(items[0], tuple(items[1:]), "OBJ")

@_op(b"i")
def _inst(m: Machine) -> None:
    module = m._line().decode("utf-8", "replace")
    name = m._line().decode("utf-8", "replace")
    ref = m._global(module, name, "INST")
    args = m._pop_mark()
    m._call(ref, tuple(args), "INST")

@_op(b"b")
def _build_op(m: Machine) -> None:
    m._build()

@_op(b"P")
def _persid(m: Machine) -> None:
    pid = PersId(m._line().decode("ascii", "replace"), m.op_pos)
    m.a.persistent_ids.append(pid)
    m._push(pid)

@_op(b"Q")
def _binpersid(m: Machine) -> None:
    pid = PersId(m._pop(), m.op_pos)
    m.a.persistent_ids.append(pid)
    m._push(pid)

@_op(b"g")
def _get(m: Machine) -> None:
    m._memo_get(m._int_line())

@_op(b"h")
def _binget(m: Machine) -> None:
    m._memo_get(m.r.byte())

@_op(b"j")
def _long_binget(m: Machine) -> None:
    m._memo_get(_u("<I", m.r.take(4)))

@_op(b"p")
def _put(m: Machine) -> None:
    m._memo_put(m._int_line())

@_op(b"q")
def _binput(m: Machine) -> None:
    m._memo_put(m.r.byte())

@_op(b"r")
def _long_binput(m: Machine) -> None:
    m._memo_put(_u("<I", m.r.take(4)))

@_op(b"\x94")
def _memoize(m: Machine) -> None:
    m._memo_put(len(m.memo))
# fmt: on


#: First bytes a pickle can start with (any opcode that is valid with an empty stack).
START_OPCODES = frozenset(b"(.FIJKLMNSTUVX\x80\x8a\x8b\x8c\x8d\x8e\x88\x89BCGPc)]}\x8f\x95\x96\x97\x82\x83\x84ig")


def analyse(
    reader: Reader,
    max_pickles: int = MAX_PICKLES,
    stop_at: int | None = None,
    joblib: bool = True,
    required: int = 1,
) -> Analysis:
    """Run every pickle in the stream from the reader's position.

    After each STOP, a further pickle is read if the next byte can start one; if that attempt fails at its
    first opcode the rest is trailing data (reported by `end`), otherwise the failure is the stream's error.
    The first `required` pickles are never trailing data (a legacy torch file's loader reads five). What was
    found before an error is kept, and what comes after it is read syntactically (`past_error`).
    """
    a = Analysis()
    machine = Machine(reader, a, joblib=joblib)  # joblib: read as joblib.load reads it (arrays inline)
    limit = reader.size if stop_at is None else min(stop_at, reader.size)
    while reader.pos < limit and a.pickles < max_pickles:
        start = reader.pos
        optional = a.pickles >= required
        if optional and reader.take(1)[0] not in START_OPCODES:
            reader.pos = start
            break
        reader.pos = start
        try:
            a.results.append(machine.run_one())
            if a.pickles == 0 and _is_torch_magic(a.results[0]):
                required, machine.joblib = 5, False  # torch.load reads a legacy file's five pickles
        except PickleError as exc:
            if optional and not _made_progress(a, start, exc.offset):
                reader.pos = start
                break
            a.error, a.error_offset = str(exc), exc.offset
            a.past_error = a.past_error or machine.read_past(machine.op_pos)
            return a
        except Truncated as exc:
            if optional and reader.pos - start < 16:
                reader.pos = start
                break
            a.error, a.error_offset = f"truncated: {exc}", reader.pos
            return a
        except (RecursionError, MemoryError, OverflowError, ValueError) as exc:
            a.error, a.error_offset = f"{type(exc).__name__}: {exc}", reader.pos
            a.past_error = a.past_error or machine.read_past(machine.op_pos)
            return a
        a.pickles += 1
        a.end = reader.pos
    if not a.pickles:
        a.error, a.error_offset = "no pickle in the stream (empty)", reader.pos
    return a


def _is_torch_magic(value: Any) -> bool:
    """Whether torch.load may take a first pickle's result for its legacy magic number: the number, or
    what a number-making call returned (int('0x1950...', 16))."""
    if isinstance(value, CallRec):
        return _returned_by(value, opscan.NUMBER_MAKERS)
    return type(value) is int and value == opscan.TORCH_MAGIC


def _made_progress(a: Analysis, start: int, offset: int) -> bool:
    """A follow-on pickle that failed within its first few bytes was never a pickle (trailing data)."""
    return offset - start >= 16
