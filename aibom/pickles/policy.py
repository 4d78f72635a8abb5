"""The load-safety verdict over a simulated pickle: allowlist first, known gadgets, calls, unresolvable imports."""

from __future__ import annotations

import _compat_pickle
import json
import re
import sys
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from ..inventory import Severity
from .vm import COMPUTED_NAME, Analysis, GlobalRef

#: Python 2 names the unpickler maps to Python 3 ones (pickle's fix_imports).
PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins", "cPickle": "pickle"}

_CAMEL = re.compile(r"^_?[A-Z][A-Za-z0-9_]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_EXCLUDED_PARTS = {"tests", "testing", "_testing", "externals"}


@dataclass(frozen=True)
class Lists:
    safe: frozenset[tuple[str, str]]
    class_prefixes: tuple[str, ...]
    gadget_modules: frozenset[str]
    gadget_globals: frozenset[str]


@cache
def lists() -> Lists:
    """The curated allowlist/denylist shipped with aibom (aibom/pickles/allowlist.json)."""
    data = json.loads(resources.files(__package__).joinpath("allowlist.json").read_text("utf-8"))
    safe = frozenset((mod, name) for mod, names in data["safe"].items() for name in names)
    return Lists(
        safe=safe,
        class_prefixes=tuple(data["safe_class_prefixes"]["prefixes"]),
        gadget_modules=frozenset(data["gadget_modules"]["modules"]),
        gadget_globals=frozenset(data["gadget_globals"]["globals"]),
    )


@dataclass(frozen=True)
class Verdict:
    severity: Severity | None  # None: allowlisted
    reason: str
    gadget: bool = False  # unsafe by name alone (a known gadget, a dunder attribute)


def well_formed(module: str, name: str) -> bool:
    """Whether module and name are dotted Python identifiers (anything else cannot be a real import)."""
    return bool(_IDENT.match(module) and _IDENT.match(name))


def _under(module: str, roots: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in roots for i in range(1, len(parts) + 1))


def judge(ref: GlobalRef, torchscript: bool = False) -> Verdict:
    """How dangerous one import is, given whether the stream calls it."""
    if ref.module is None or ref.name is None:
        return Verdict(Severity.ERROR, f"unresolvable import ({ref.detail or ref.opcode}): cannot be checked")
    if len(ref.module) + len(ref.name) > _CACHED_NAME:  # never keep long (hostile) names
        return _judge(ref.module, ref.name, ref.called, torchscript)
    return _judge_cached(ref.module, ref.name, ref.called, torchscript)


#: Where joblib's NDArrayWrapper is found (sklearn vendored joblib until 0.23).
_JOBLIB_PICKLE_MODULES = frozenset(
    f"{pkg}.{mod}" for pkg in ("joblib", "sklearn.externals.joblib") for mod in ("numpy_pickle", "numpy_pickle_compat")
)


def _judge(module: str, name: str, called: bool, torchscript: bool) -> Verdict:
    # Python 2 names as the unpickler maps them (fix_imports): __builtin__.reduce is functools.reduce
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    module = PY2_MODULES.get(module, _compat_pickle.IMPORT_MAPPING.get(module, module))
    lst = lists()
    if not _IDENT.match(module) or not _IDENT.match(name):
        return Verdict(Severity.ERROR, "import of a malformed name")
    if (module, name) in lst.safe:
        return Verdict(None, "allowlisted")
    if name == "NDArrayWrapper" and module in _JOBLIB_PICKLE_MODULES:
        return Verdict(
            Severity.ERROR,
            "joblib's pre-0.10 array wrapper: joblib.load opens the file named in its state with "
            "np.load(allow_pickle=True), which runs any pickle in that file",
        )
    if torchscript and (module == "__torch__" or module.startswith("__torch__.")):
        return Verdict(None, "TorchScript class (compiled from the archive's code/)")
    if any(p.startswith("__") and p.endswith("__") for p in name.split(".")):
        return Verdict(Severity.ERROR, "reaches a dunder attribute (attribute-traversal gadget)", gadget=True)
    if _under(module, lst.gadget_modules) or f"{module}.{name}" in lst.gadget_globals:
        return Verdict(Severity.ERROR, "known code-execution or system-access gadget", gadget=True)
    if "." in name:
        return Verdict(Severity.ERROR if called else Severity.WARNING, "dotted name resolves attributes")
    parts = set(module.split("."))
    if (
        _CAMEL.match(name)
        and not parts & _EXCLUDED_PARTS
        and any(module.startswith(p) or module == p.rstrip(".") for p in lst.class_prefixes)
    ):
        return Verdict(None, "allowlisted class family")
    if called:
        return Verdict(Severity.ERROR, "calls a callable that is not allowlisted")
    return Verdict(Severity.WARNING, "imports an object that is not allowlisted (not called)")


#: Streams import the same few names over and over: their verdicts are kept, for names up to this long.
_CACHED_NAME = 200
_judge_cached = lru_cache(maxsize=4096)(_judge)


@dataclass(frozen=True)
class Issue:
    severity: Severity
    offset: int
    message: str
    symbol: str | None = None


def issues(analysis: Analysis, torchscript: bool = False) -> list[Issue]:
    """Every unsafe-code issue in an analysed stream, one per (import, verdict) plus the machine's notes."""
    out: list[Issue] = []
    seen: set[tuple[str, bool]] = set()
    for ref in analysis.globals:
        verdict = judge(ref, torchscript)
        if verdict.severity is None:
            continue
        key = (ref.qualname, ref.called)
        if key in seen:
            continue
        seen.add(key)
        how = "called" if ref.called else "imported"
        out.append(
            Issue(
                verdict.severity, ref.offset, f"{ref.qualname} {how} via {ref.opcode}: {verdict.reason}", ref.qualname
            )
        )
    for note in analysis.notes:
        out.append(Issue(Severity.ERROR, note.offset, note.message))
    plain = (
        " when the file is loaded with pickle.load instead of joblib.load (which reads its first array's bytes "
        "on their own, not as part of the stream)"
    )
    torch = " when the file is loaded with torch.load (its first array's bytes begin a legacy torch file)"
    for refs, when, lenient in (
        (analysis.plain_load, plain, True),
        (analysis.past_error, "", True),
        (analysis.torch_load, torch, False),
    ):
        for ref in refs:
            verdict = judge(ref, torchscript)
            if verdict.severity is not Severity.ERROR or (ref.qualname, ref.called) in seen:
                continue
            if lenient and not _unsafe_in_itself(ref, verdict):
                continue
            seen.add((ref.qualname, ref.called))
            how = "called" if ref.called else "imported"
            message = f"{ref.qualname} {how} via {ref.opcode}{when}: {verdict.reason}"
            out.append(Issue(Severity.ERROR, ref.offset, message, ref.qualname))
    return out


def _unsafe_in_itself(ref: GlobalRef, verdict: Verdict) -> bool:
    """Whether an import read from bytes that may be data (array bytes, bytes past an error) counts: data
    that happens to parse as opcodes (text with newlines reads as GLOBAL lines) names imports and calls now
    and then, so only known gadgets, dotted names that are called (attribute traversal) and names computed
    by a call count, never a merely unlisted name."""
    if verdict.gadget:
        return True
    if ref.module is None:
        return COMPUTED_NAME in (ref.detail or "")
    # a standard-library callable that is not allowlisted (doctest.debug_script runs exec) is too unlikely
    # a product of chance bytes to pass over
    return ref.called and ("." in (ref.name or "") or ref.module.partition(".")[0] in sys.stdlib_module_names)


def imported(analysis: Analysis) -> list[str]:
    """The distinct imports of a stream, sorted."""
    return sorted({ref.qualname for ref in analysis.globals})
