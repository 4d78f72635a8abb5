"""Turn untrusted parsed JSON/YAML values into small, plain facts: bounded strings, lists and ints."""

from __future__ import annotations

import re
from typing import Any

MAX_STR = 1000
#: Control characters (XML 1.0 cannot carry them) and lone surrogates (UTF-8 cannot encode them).
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
MAX_ITEMS = 256


def text(value: Any, limit: int = MAX_STR) -> str | None:
    """A non-empty string (numbers are accepted and written out), cut to `limit` characters."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = _UNSAFE.sub("\ufffd", value[: limit * 2]).strip()
    return value[:limit] if value else None


def texts(value: Any, limit: int = MAX_ITEMS) -> list[str]:
    """A string or a list of strings as a list of at most `limit` strings (others dropped), order kept."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items[: limit * 4]:
        if (t := text(item)) is not None and t not in out:
            out.append(t)
            if len(out) >= limit:
                break
    return out


def integer(value: Any) -> int | None:
    """A non-negative integer (never a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
