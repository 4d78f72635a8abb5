"""A syntactic pass over pickle opcodes: the names a stream imports from some offset on, without running it.

The plain-load view (vm.Machine._plain_load_view) simulates what pickle.load runs over a joblib array's
bytes, but it stops where aibom's machine refuses something CPython's unpickler accepts (SETITEM into a
list, an INT line in base 16, a line longer than aibom keeps, ...). From there this pass reads on the way
a disassembler does: opcode by opcode, each argument by its declared size, until STOP, an invalid opcode,
the end of the input or a budget. It models the stack by each opcode's declared effect (pickletools),
keeping only what names are made of: strings, imports, what calls returned. It records GLOBAL and INST
names, STACK_GLOBAL's from the strings it takes (or from a str-making call), and which of them are called;
callers judge them. The plain-load view and `analyse` (past an error) use it.
"""

from __future__ import annotations

import codecs
import pickletools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .reader import MAX_LINE, Reader, Truncated

#: How far one line may run before the pass gives up (CPython has no limit; the pass reads these bytes).
MAX_LINE_SCAN = 64 << 20
#: Strings longer than this are skipped, not decoded: no module or name is this long.
MAX_NAME = 4096

_ARG_KIND = {-1: "line", -2: "len1", -3: "len4s", -4: "len4u", -5: "len8u"}
# what an opcode does besides moving values (the rest is its declared stack effect)
_PLAIN, _STOP, _NAMES, _STACK_GLOBAL, _PUT, _MEMOIZE, _GET, _MARK_OP, _POP, _DUP = range(10)
_ROLE = {"STOP": _STOP, "GLOBAL": _NAMES, "INST": _NAMES, "STACK_GLOBAL": _STACK_GLOBAL, "MEMOIZE": _MEMOIZE}
_ROLE |= {"PUT": _PUT, "BINPUT": _PUT, "LONG_BINPUT": _PUT, "GET": _GET, "BINGET": _GET, "LONG_BINGET": _GET}
_ROLE |= {"MARK": _MARK_OP, "POP": _POP, "DUP": _DUP}
_KEEPS = {"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD", "READONLY_BUFFER"}


@dataclass(frozen=True)
class _Op:
    name: str
    arg: int | str  # a fixed size, "line", "lines2", "len1", "len4s", "len4u" or "len8u"
    role: int
    below: int  # values taken from under a MARK (APPENDS, SETITEMS, ADDITEMS: the container), or -1: no MARK
    pops: int  # values taken when there is no MARK
    pushes: int
    keeps: bool  # pushes back the first value it took (a container it filled, BUILD's object)


def _op_of(op: pickletools.OpcodeInfo) -> _Op:
    before = [s.name for s in op.stack_before]
    arg = "lines2" if op.name in ("GLOBAL", "INST") else _ARG_KIND.get(op.arg.n, op.arg.n) if op.arg else 0
    below = before.index("mark") if "mark" in before else -1
    role = _ROLE.get(op.name, _PLAIN)
    return _Op(op.name, arg, role, below, len(before), len(op.stack_after), op.name in _KEEPS)


#: opcode byte -> how the pass reads it and what it does to the stack (from pickletools' descriptions)
_OPCODES: list[_Op | None] = [None] * 256
for _info in pickletools.opcodes:
    _OPCODES[ord(_info.code)] = _op_of(_info)
_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"}
#: How many values of each stack level the pass starts from (only strings matter to it).
_SEED = 64

#: module, name (None, None: a name computed by a str-making call), offset, opcode, whether it is called
Import = tuple[str | None, str | None, int, str, bool]


class Name:
    """An import on the modelled stack; it is reported once it is seen imported here, or called."""

    __slots__ = ("called", "module", "name", "offset", "opcode", "reported")

    def __init__(self, module: str | None, name: str | None, offset: int, opcode: str, reported: bool) -> None:
        self.module, self.name, self.offset, self.opcode = module, name, offset, opcode
        self.called = False
        self.reported = reported


class Call:
    """What calling `func` returned (a str when `func` makes strings, torch's magic number when it makes numbers)."""

    __slots__ = ("func",)

    def __init__(self, func: Any) -> None:
        self.func = func


#: What may make an exact str (STACK_GLOBAL's operands) or a number equal to torch's magic.
STR_MAKERS = frozenset({("builtins", "str"), ("__builtin__", "str"), ("__builtin__", "unicode")})
NUMBER_MAKERS = frozenset(
    {("builtins", "int"), ("__builtin__", "long"), ("decimal", "Decimal"), ("fractions", "Fraction")}
)
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_FOLLOWING_PICKLES = 4  # torch.load reads four more pickles after its magic number


def _made_by(value: Any, makers: frozenset[tuple[str, str]]) -> bool:
    func = value.func if isinstance(value, Call) else None
    return isinstance(func, Name) and (func.module, func.name) in makers


def imports_from(
    r: Reader, max_ops: int, memo: Mapping[int, Any], levels: list[list[Any]], convert: Callable[[Any], Any]
) -> tuple[list[Import], int]:
    """The imports of the opcodes from `r`'s position on, read syntactically (see the module docstring), and
    how many opcodes were read. `memo` holds the entries made before this offset (read, never changed) and
    `levels` the stack there, the levels below each MARK first; `convert` turns their values into what the
    model keeps (str, Name, Call, an int, else None). The stack is modelled by each opcode's declared effect,
    with MARKs as positions in it (as CPython keeps them); where it runs short, values are unknown, not an
    error. A pickle that ends with torch's magic number is followed by the four torch.load reads next."""
    names: list[Name] = []
    stack: list[Any] = []
    marks: list[int] = []  # the stack's length at each MARK
    for i, level in enumerate(levels):
        if i:
            marks.append(len(stack))
        stack += [convert(v) for v in level[-_SEED:]]
    mine: dict[int, Any] = {}
    added = 0  # entries of `mine` the memo from before lacks (MEMOIZE stores at the memo's length)
    ops, following = 0, 0
    table, byte = _OPCODES, r.byte

    def named(module: str | None, name: str | None, offset: int, opcode: str) -> Name:
        ref = Name(module, name, offset, opcode, True)
        names.append(ref)
        return ref

    def call(func: Any) -> Call:
        if isinstance(func, Name):
            func.called = True
            if not func.reported:
                func.reported = True
                names.append(func)
        return Call(func)

    try:
        while ops < max_ops:
            ops += 1
            pos = r.pos
            op = table[byte()]
            if op is None:
                break
            role = op.role
            value = _argument(r, op) if op.arg else None
            if role:
                if role == _STOP:
                    top = stack[-1] if len(stack) > (marks[-1] if marks else 0) else None
                    magic = top == TORCH_MAGIC if type(top) is int else _made_by(top, NUMBER_MAKERS)
                    if following or (magic and following < _FOLLOWING_PICKLES):
                        # torch.load goes on with a new unpickler: a fresh stack and memo
                        following += 1
                        if following > _FOLLOWING_PICKLES:
                            break
                        stack, marks, mine, memo, added = [], [], {}, {}, 0
                        continue
                    break
                if role == _NAMES:
                    ref = named(value[0], value[1], pos, op.name) if value is not None else None
                    value = call(ref) if op.name == "INST" else ref
                elif role in (_PUT, _MEMOIZE):
                    index = value if role == _PUT else len(memo) + added
                    if isinstance(index, int) and index >= 0:
                        added += index not in mine and index not in memo
                        fence = marks[-1] if marks else 0
                        mine[index] = stack[-1] if len(stack) > fence else None
                    continue  # MEMOIZE leaves the stack as it is too
                elif role == _GET:
                    if value in mine:
                        value = mine[value]
                    else:
                        value = convert(memo.get(value)) if isinstance(value, int) else None
                elif role == _MARK_OP:
                    marks.append(len(stack))
                    continue
                elif role == _POP:
                    if len(stack) > (marks[-1] if marks else 0):
                        stack.pop()
                    elif marks:
                        marks.pop()  # POP with nothing above the MARK takes the MARK
                    continue
            # the declared stack effect: take the operands (oldest first), push the results
            above: list[Any] = []
            if op.below >= 0:
                fence = marks.pop() if marks else 0
                above = stack[fence:]  # OBJ calls the first of them
                del stack[fence:]  # the values above the MARK, and the MARK
                fence = marks[-1] if marks else 0
                taken = [stack.pop() if len(stack) > fence else None for _ in range(op.below)][::-1]
            elif op.pops:
                n = op.pops
                fence = marks[-1] if marks else 0
                if len(stack) - n >= fence:
                    taken = stack[-n:]
                    del stack[-n:]
                else:
                    taken = [None] * (n - len(stack) + fence) + stack[fence:]
                    del stack[fence:]
            else:
                taken = []
            if role == _STACK_GLOBAL:
                module, name = taken
                if isinstance(module, str) and isinstance(name, str):
                    value = named(module, name, pos, op.name)
                elif all(isinstance(v, str) or _made_by(v, STR_MAKERS) for v in taken):
                    value = named(None, None, pos, op.name)  # built by calling a str maker
            elif role == _DUP:
                stack += taken * 2
                continue
            elif op.name in ("REDUCE", "NEWOBJ", "NEWOBJ_EX"):
                value = call(taken[0])
            elif op.name == "OBJ":
                value = call(above[0] if above else None)
            if op.pushes:
                stack.append(taken[0] if op.keeps and taken else value)
    except (Truncated, ValueError):
        pass
    return [(n.module, n.name, n.offset, n.opcode, n.called) for n in names], ops


def _argument(r: Reader, op: _Op) -> Any:
    """Read an opcode's argument: a string for string opcodes, an index for memo opcodes, (module, name)
    for GLOBAL and INST, else None (skipped)."""
    kind, name = op.arg, op.name
    if kind == "lines2":
        module, attr = _text_line(r), _text_line(r)
        return (module, attr) if module is not None and attr is not None else None
    if kind == "line":
        line = _line(r)
        if line is None:
            return None
        if op.role == _GET or op.role == _PUT or name in ("INT", "LONG"):
            return _int(line.rstrip(b"L") if name == "LONG" else line)
        if name == "UNICODE":
            return _decode(line, "raw-unicode-escape")
        return _quoted(line) if name == "STRING" else None
    if isinstance(kind, int):
        raw = r.take(kind)
        return int.from_bytes(raw, "little") if op.role == _GET or op.role == _PUT else None
    n = int.from_bytes(r.take({"len1": 1, "len4s": 4, "len4u": 4}.get(kind, 8)), "little")
    if kind == "len4s" and n >= 1 << 31:
        raise ValueError("negative length")  # CPython's unpickler stops here
    if name in _STRINGS and n <= MAX_NAME:
        return _decode(r.take(n), "utf-8" if "UNICODE" in name else "ascii")
    if name == "LONG1" and n <= 16:  # small enough to be torch's magic number
        return int.from_bytes(r.take(n), "little", signed=True)
    r.skip(n)
    return None


def _line(r: Reader) -> bytes | None:
    """The next line, or None when it is longer than aibom keeps (it is skipped, up to MAX_LINE_SCAN)."""
    try:
        return r.line(MAX_LINE)
    except ValueError:
        r.skip_line(MAX_LINE_SCAN)
        return None


def _text_line(r: Reader) -> str | None:
    line = _line(r)
    return _decode(line, "utf-8") if line is not None else None


def _decode(raw: bytes, encoding: str) -> str | None:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def _quoted(line: bytes) -> str | None:
    """A STRING opcode's argument as the unpickler reads it: quoted, escapes decoded, ASCII."""
    if len(line) < 2 or line[:1] != line[-1:] or line[:1] not in (b"'", b'"'):
        return None
    try:
        return codecs.escape_decode(line[1:-1])[0].decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None


def _int(line: bytes) -> int | None:
    """A number line read leniently (PUT and GET take base 10, INT and LONG base 0 too)."""
    for base in (10, 0):
        try:
            return int(line, base)
        except ValueError:
            pass
    return None
