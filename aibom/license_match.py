"""Full-text license matching: a license file compared with the reference texts in `licenses/texts/`.

Both sides are normalised the same way (lower case, words only, copyright and "all rights reserved"
lines dropped, so headers, wrapping, punctuation and layout do not matter) and cut into overlapping
word 3-grams. The best reference by Dice similarity of those sets wins if it is close enough; a
reference found almost whole inside a longer file (a preamble, a trailing note) also counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .resources import data_dir

#: Word cap on the text compared (the longest bundled reference has ~6,000 words).
MAX_WORDS = 60_000
#: Dice similarity at or above which a reference is the file's license.
MIN_DICE = 0.80
#: Share of a reference's 3-grams that must occur in a longer file to name it.
MIN_CONTAINMENT = 0.95
_SHINGLE = 3
_COPYRIGHT_LINE = re.compile(
    r"^[\s#*/;>-]*(copyright\b|\(c\)|©|all rights reserved|portions copyright).*$", re.IGNORECASE | re.MULTILINE
)
_WORD = re.compile(r"[a-z0-9]+")
_QUOTES = str.maketrans({"`": "'", "‘": "'", "’": "'", "“": '"', "”": '"'})


def words(text: str) -> list[str]:
    """The normalised words of a license text, copyright lines removed."""
    text = _COPYRIGHT_LINE.sub(" ", text.translate(_QUOTES))
    return _WORD.findall(text.lower())[:MAX_WORDS]


def shingles(tokens: list[str]) -> frozenset[int]:
    return frozenset(hash(tuple(tokens[i : i + _SHINGLE])) for i in range(max(0, len(tokens) - _SHINGLE + 1)))


@dataclass(frozen=True)
class Reference:
    spdx_id: str
    grams: frozenset[int]


@dataclass(frozen=True)
class Match:
    spdx_id: str
    dice: float
    containment: float


@cache
def references() -> tuple[Reference, ...]:
    """The bundled reference texts, one per SPDX id (file name = id)."""
    folder = data_dir("licenses") / "texts"
    refs = []
    for path in sorted(folder.glob("*.txt")):
        if path.stem.startswith("SOURCE-"):
            continue
        refs.append(Reference(path.stem, shingles(words(path.read_text(encoding="utf-8")))))
    return tuple(refs)


def best_match(text: str) -> Match | None:
    """The reference license `text` is, or None when no reference is close enough."""
    grams = shingles(words(text))
    if len(grams) < 10:
        return None
    best: Match | None = None
    contained: Match | None = None
    for ref in references():
        common = len(grams & ref.grams)
        if not common:
            continue
        dice = 2 * common / (len(grams) + len(ref.grams))
        containment = common / len(ref.grams)
        cand = Match(ref.spdx_id, dice, containment)
        if best is None or dice > best.dice:
            best = cand
        # Among references found whole inside the file, the largest is the most specific one.
        if containment >= MIN_CONTAINMENT and (contained is None or len(ref.grams) > _size(contained.spdx_id)):
            contained = cand
    if best is not None and best.dice >= MIN_DICE:
        return best
    return contained


def _size(spdx_id: str) -> int:
    return next(len(r.grams) for r in references() if r.spdx_id == spdx_id)
