"""Make text from scanned files safe to print: no terminal control sequences, no lone surrogates."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from enum import Enum
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def has_controls(text: str) -> bool:
    """Whether `for_terminal` would change `text`'s control characters."""
    return bool(_CONTROL.search(text))


def for_terminal(text: str) -> str:
    """Replace control characters (ANSI escapes, carriage returns, bidi overrides ...) with `\\xNN` escapes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


#: Characters that JSON may carry raw but a terminal or an editor would act on (C1 controls, bidi
#: overrides, line separators); json.dumps already escapes C0 controls.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def for_json_text(text: str) -> str:
    """Serialized JSON with the characters above written as `\\uXXXX` escapes: the same JSON value,
    but safe to print to a terminal or open in an editor (they only ever occur inside strings)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


#: Characters XML 1.0 cannot carry at all (even escaped), lone surrogates, and CR (parsers fold it into LF).
_NOT_XML = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def for_xml(text: str) -> str:
    """Replace characters XML 1.0 forbids with visible `\\xNN` escapes (only when there are any, so
    ordinary text is unchanged; a backslash is then doubled, keeping distinct strings distinct)."""
    if not _NOT_XML.search(text):
        return text
    text = text.replace("\\", "\\\\")
    return _NOT_XML.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def map_strings(obj: Any, fn: Callable[[str], str]) -> Any:
    """A copy of `obj` (dataclasses, lists, dicts, tuples) with `fn` applied to every string in it."""
    if isinstance(obj, Enum):
        return obj
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, list):
        return [map_strings(x, fn) for x in obj]
    if isinstance(obj, tuple):
        return tuple(map_strings(x, fn) for x in obj)
    if isinstance(obj, dict):
        return {map_strings(k, fn): map_strings(v, fn) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: map_strings(getattr(obj, f.name), fn) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj
