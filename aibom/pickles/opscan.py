"""A syntactic pass over pickle opcodes: the names a stream imports from some offset on, without running it.

The plain-load view (vm.Machine._plain_load_view) simulates what pickle.load runs over a joblib array's
bytes, but it stops where aibom's machine refuses something CPython's unpickler accepts (SETITEM into a
list, an INT line in base 16, a line longer than aibom keeps, ...). From there this pass reads on the way
a disassembler does: opcode by opcode, each argument by its declared size, until STOP, an invalid opcode,
the end of the input or a budget. It records GLOBAL and INST names, and STACK_GLOBAL's from the two
strings pushed last (or recalled from the memo), as picklescan-like scanners do; callers judge them.
"""

from __future__ import annotations

import codecs
import pickletools
from collections.abc import Callable
from typing import Any

from .reader import MAX_LINE, Reader, Truncated

#: How far one line may run before the pass gives up (CPython has no limit; the pass reads these bytes).
MAX_LINE_SCAN = 64 << 20
#: Strings longer than this are skipped, not decoded: no module or name is this long.
MAX_NAME = 4096

_ARG_KIND = {-1: "line", -2: "len1", -3: "len4s", -4: "len4u", -5: "len8u"}
#: opcode byte -> (name, argument kind: a fixed size, "line", "lines2", "len1", "len4s", "len4u", "len8u")
_OPCODES: dict[int, tuple[str, int | str]] = {}
for _op in pickletools.opcodes:
    _n = _op.arg.n if _op.arg is not None else 0
    _kind: int | str = "lines2" if _op.name in ("GLOBAL", "INST") else _ARG_KIND.get(_n, _n)
    _OPCODES[ord(_op.code)] = (_op.name, _kind)
_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}
#: Opcodes that push nothing: the last two pushed values stay what STACK_GLOBAL would find.
_NO_PUSH = _PUTS | {"MEMOIZE", "PROTO", "FRAME", "MARK", "STOP"}


Import = tuple[str, str, int, str]  # module, name, offset, opcode


def imports_from(
    r: Reader, max_ops: int, memo_get: Callable[[int], Any], memo_len: int, on_stack: list[Any]
) -> list[Import]:
    """The imports of the opcodes from `r`'s position on, read syntactically (see the module docstring).
    `memo_get(index)` answers for memo entries made before this offset, `memo_len` is how many there are,
    and `on_stack` holds the values on top of the stack there (the last one on top)."""
    out: list[Import] = []
    memo: dict[int, Any] = {}
    # the two values pushed last: strings, or None for anything else
    last: list[Any] = ([None, None] + [v if isinstance(v, str) else None for v in on_stack])[-2:]
    try:
        for _ in range(max_ops):
            pos = r.pos
            entry = _OPCODES.get(r.byte())
            if entry is None:
                break
            name, kind = entry
            if name == "STOP":
                break
            value: Any = None
            if kind == "lines2":
                module, attr = _text_line(r), _text_line(r)
                if module is not None and attr is not None:
                    out.append((module, attr, pos, name))
            elif kind == "line":
                line = _line(r)
                if name in _GETS or name in _PUTS:
                    index = _int(line)
                    if name in _GETS:
                        value = _recall(index, memo, memo_get)
                    elif index is not None:
                        memo[index] = last[-1]
                elif name == "UNICODE" and line is not None:
                    value = _decode(line, "raw-unicode-escape")
                elif name == "STRING" and line is not None:
                    value = _quoted(line)
            elif kind == 0:
                if name == "STACK_GLOBAL" and isinstance(last[-2], str) and isinstance(last[-1], str):
                    out.append((last[-2], last[-1], pos, name))
                elif name == "MEMOIZE":
                    memo[memo_len + len(memo)] = last[-1]
            elif isinstance(kind, int):
                arg = int.from_bytes(r.take(kind), "little")
                if name in _GETS:
                    value = _recall(arg, memo, memo_get)
                elif name in _PUTS:
                    memo[arg] = last[-1]
            else:
                n = int.from_bytes(r.take({"len1": 1, "len4s": 4, "len4u": 4}.get(kind, 8)), "little")
                if kind == "len4s" and n >= 1 << 31:
                    break  # a negative length: CPython's unpickler stops
                if name in _STRINGS and n <= MAX_NAME:
                    value = _decode(r.take(n), "utf-8" if "UNICODE" in name else "ascii")
                else:
                    r.skip(n)
            if name not in _NO_PUSH:
                last = [last[-1], value]
    except (Truncated, ValueError):
        pass
    return out


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


def _int(line: bytes | None) -> int | None:
    try:
        return int(line, 10) if line is not None else None
    except ValueError:
        return None


def _recall(index: int | None, memo: dict[int, Any], memo_get: Callable[[int], Any]) -> Any:
    if index is None:
        return None
    if index in memo:
        return memo[index]
    value = memo_get(index)
    return value if isinstance(value, str) else None
