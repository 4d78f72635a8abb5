"""License identification shared by scanners: SPDX expressions and license-text signatures."""

from __future__ import annotations

import re
import threading
from functools import cache

from license_expression import ExpressionError, get_spdx_licensing

from .inventory import License
from .license_match import MIN_DICE, best_match
from .resources import load_json

#: One licensing object for the whole program, and one lock for it: its parser is not thread-safe.
LICENSING_LOCK = threading.Lock()
_NON_WORD = re.compile(r"[^a-z0-9.]+")
_SPDX_TAG = re.compile(r"SPDX-License-Identifier:\s*(.+?)\s*(?:\*/|-->|#}|$)", re.MULTILINE)


@cache
def spdx_licensing():  # type: ignore[no-untyped-def]
    """license-expression's SPDX licensing object (building its index is costly: once per process)."""
    return get_spdx_licensing()


def spdx_expression(text: str) -> str | None:
    """The normalised SPDX expression for `text`, or None if any part is not an SPDX id."""
    text = text.strip()
    if not text or len(text) > 1000 or not text.isprintable():
        return None
    try:
        with LICENSING_LOCK:  # scanners run in threads; the licensing object is not known to be thread-safe
            info = spdx_licensing().validate(text)
    except (ExpressionError, TypeError, ValueError, AttributeError, KeyError, IndexError):
        # license-expression 30.4 itself raises AttributeError on some malformed input
        return None
    if info.errors or not info.normalized_expression:
        return None
    return str(info.normalized_expression)


def normalise_text(text: str) -> str:
    """Lower case, punctuation to spaces, whitespace folded: robust to wrapping and layout."""
    return " " + " ".join(_NON_WORD.sub(" ", text.lower()).split()) + " "


@cache
def _signatures() -> list[tuple[dict[str, str], list[str]]]:
    data = load_json("licenses", "text-signatures.json")
    return [(entry, [normalise_text(p).strip() for p in entry["all"]]) for entry in data["licenses"]]


def identify_text(text: str) -> License | None:
    """Identify a license text: an `SPDX-License-Identifier:` tag, the full text, then phrase signatures.

    A known license text followed or preceded by substantial other text is not that license: it is
    named "<id> with additional text" so that nobody takes extra terms for the plain license.
    """
    if m := _SPDX_TAG.search(text[:20000]):
        tag = m.group(1)
        expr = spdx_expression(tag)
        return License(expression=expr) if expr else License(name=tag.strip()[:200])
    if match := best_match(text):
        if match.dice >= MIN_DICE:
            return License(expression=match.spdx_id)
        return License(name=f"{match.spdx_id} with additional text")
    body = normalise_text(text)
    for entry, phrases in _signatures():
        if all(p in body for p in phrases):
            if "id" in entry:
                return License(expression=entry["id"])
            return License(name=entry["name"], url=entry.get("url"))
    return None


def license_keys(expression: str) -> list[str]:
    """The license ids in an SPDX expression (`MIT OR Apache-2.0` -> [MIT, Apache-2.0])."""
    try:
        with LICENSING_LOCK:
            return [str(k) for k in spdx_licensing().license_keys(expression)]
    except (ExpressionError, TypeError, ValueError, AttributeError, KeyError, IndexError):
        return [expression]
