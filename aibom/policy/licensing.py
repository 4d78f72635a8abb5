"""The license knowledge base (`licenses/`): categories of SPDX ids, AI licenses, code compatibility."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from license_expression import ExpressionError

from ..inventory import License
from ..license_ids import LICENSING_LOCK, spdx_licensing
from ..resources import load_json

#: From least to most restrictive for someone redistributing: an OR picks the lowest, an AND the highest.
RANK = (
    "public-domain",
    "permissive",
    "weak-copyleft",
    "share-alike",
    "strong-copyleft",
    "network-copyleft",
    "use-restricted",
    "non-commercial",
    "no-derivatives",
    "proprietary/source-available",
    "unknown",
)
OPEN = frozenset(RANK[:6])  # terms that let anyone use, study, modify and share
COPYLEFT = frozenset({"strong-copyleft", "network-copyleft"})
NOT_COMMERCIAL = frozenset({"non-commercial"})
_NORM = re.compile(r"[^a-z0-9.+]+")


@dataclass(frozen=True)
class LicenseClass:
    """What aibom knows about one license statement."""

    label: str
    category: str  # one of RANK
    ids: tuple[str, ...]  # SPDX ids or AI-license keys involved
    ai: str | None = None  # key in licenses/ai-licenses.json
    known: bool = True  # False: neither SPDX nor a known AI license

    @property
    def open(self) -> bool:
        return self.category in OPEN

    def fact(self, name: str) -> Any:
        return ai_licenses()[self.ai]["facts"][name]["value"] if self.ai else None


@cache
def categories() -> dict[str, str]:
    return {k.lower(): v for k, v in load_json("licenses", "categories.json")["licenses"].items()}


@cache
def ai_licenses() -> dict[str, dict[str, Any]]:
    return load_json("licenses", "ai-licenses.json")["licenses"]


def _norm(text: str) -> str:
    return " ".join(_NORM.sub(" ", text.lower()).split())


@cache
def _ai_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for key, entry in ai_licenses().items():
        for name in [key, entry["name"], *entry["hf_tags"], *entry.get("hf_license_names", []), *entry["aliases"]]:
            names[_norm(name)] = key
    return names


def ai_license_for(text: str) -> str | None:
    """The AI license key a name, tag or URL refers to, if any."""
    norm = _norm(text)
    if norm in _ai_names():
        return _ai_names()[norm]
    if norm.startswith("licenseref "):
        return _ai_names().get(norm.removeprefix("licenseref ").strip())
    return None


@cache
def _parse(expression: str) -> Any:
    """The parsed expression tree, or None when it cannot be parsed. Cached: the same few recur."""
    try:
        with LICENSING_LOCK:
            return spdx_licensing().parse(expression[:1000], validate=False)
    except (ExpressionError, TypeError, ValueError, AttributeError, RecursionError):
        return None


def hub_model_license(name: str) -> str | None:
    """The AI license a well-known Hub repository (org/name) is published under, if listed."""
    lowered = name.lower()
    for key, entry in ai_licenses().items():
        if any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in entry.get("hub_models", [])):
            return key
    return None


def _rank(category: str) -> int:
    return RANK.index(category)


def _classify_tree(node: Any, ids: list[str]) -> str:
    """Category of a parsed expression: AND -> most restrictive part, OR -> least restrictive choice."""
    args = getattr(node, "args", None)
    if args:
        cats = [_classify_tree(a, ids) for a in args[:64]]
        op = type(node).__name__.upper()
        pick = min if op == "OR" else max
        return pick(cats, key=_rank)
    key = str(getattr(node, "key", node))
    if " WITH " in key:  # a license with an exception is categorised by the license
        key = key.split(" WITH ", 1)[0]
    ids.append(key)
    if ai := ai_license_for(key):
        return ai_licenses()[ai]["category"]
    return categories().get(key.lower(), "unknown")


@cache
def classify_expression(expression: str) -> tuple[str, tuple[str, ...]]:
    ids: list[str] = []
    tree = _parse(expression)
    if tree is None:
        return "unknown", (expression,)
    return _classify_tree(tree, ids), tuple(ids)


def classify(lic: License) -> LicenseClass:
    """Categorise a license as found (an SPDX expression, an AI license name/tag/URL, or an unknown name)."""
    for text in (lic.expression, lic.name, lic.url):
        if text and (ai := ai_license_for(text)):
            return LicenseClass(lic.label, ai_licenses()[ai]["category"], (ai,), ai=ai)
    if lic.expression:
        category, ids = classify_expression(lic.expression)
        return LicenseClass(lic.label, category, ids, known=category != "unknown")
    if lic.name and lic.name.lower() in categories():  # an SPDX id written as a name
        return LicenseClass(lic.label, categories()[lic.name.lower()], (lic.name,))
    return LicenseClass(lic.label, "unknown", (), known=False)


def combined(licenses: list[License]) -> LicenseClass | None:
    """All licenses of one component apply together (AND): the most restrictive decides."""
    if not licenses:
        return None
    classes = [classify(lic) for lic in licenses]
    worst = max(classes, key=lambda c: _rank(c.category))
    ai = next((c.ai for c in classes if c.ai), None)
    ids = tuple(dict.fromkeys(i for c in classes for i in c.ids))
    label = " AND ".join(dict.fromkeys(c.label for c in classes))
    return LicenseClass(label, worst.category, ids, ai=ai, known=all(c.known for c in classes))


@cache
def _compat() -> dict[str, dict[str, str]]:
    return {
        k.lower(): {i.lower(): v for i, v in row.items()}
        for k, row in load_json("licenses", "compatibility.json")["outbound"].items()
    }


def _compat_one(outbound: str, inbound: str) -> str:
    row = _compat().get(outbound.lower())
    if row is not None and inbound.lower() in row:
        return row[inbound.lower()]
    out_cat = categories().get(outbound.lower(), "unknown")
    in_cat = categories().get(inbound.lower(), "unknown")
    if in_cat in ("public-domain", "permissive"):
        return "yes"
    if in_cat in COPYLEFT:
        return "no" if out_cat not in COPYLEFT else "check"
    return "check"


_ORDER = ("no", "check", "yes")


def _verdict(node: Any, outbound_ids: tuple[str, ...]) -> str:
    args = getattr(node, "args", None)
    if args:
        verdicts = [_verdict(a, outbound_ids) for a in args[:64]]
        pick = max if type(node).__name__.upper() == "OR" else min
        return pick(verdicts, key=_ORDER.index)
    key = str(getattr(node, "key", node)).split(" WITH ", 1)[0]
    return min((_compat_one(o, key) for o in outbound_ids), key=_ORDER.index)


def code_compatible(outbound: LicenseClass, inbound: License) -> str:
    """May code under `inbound` go into a work released under `outbound`? yes | no | check.

    OR in the inbound expression: the best choice counts; AND: every part must fit. The outbound ids all
    apply. Verdicts come from licenses/compatibility.json (OSADL), else from the license categories.
    """
    if not outbound.ids or not inbound.expression:
        return "check"
    tree = _parse(inbound.expression)
    return _verdict(tree, outbound.ids) if tree is not None else "check"
