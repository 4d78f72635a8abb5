"""Models and datasets that Python code pulls from a hub at run time, found with `ast` (never run).

Recognised calls, with string-literal arguments only: `X.from_pretrained("org/name")`,
`pipeline(task, model="org/name")`, `load_dataset("org/name")`, `hf_hub_download(repo_id=...)`,
`snapshot_download(...)` (`repo_type="dataset"` makes it a dataset), `SentenceTransformer("...")`
and `torch.hub.load("owner/repo", "model")`. A reference to a path inside the project is local and
left to the file scanners; every other one becomes an external model or dataset component with the
file and line as evidence. Notebooks (`.ipynb`) are read cell by cell. Code that names none of the
recognised calls (most of a project's code) is not parsed at all: it cannot reference anything.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass

from .. import readdeps
from ..inventory import Artifact, Category, Evidence, Finding, Kind, Provenance, Severity
from ..sniff import Probe, looks_like_text
from . import register
from .base import Scanner, ScanOutput

MAX_SOURCE_BYTES = 2 << 20
MAX_NOTEBOOK_BYTES = 16 << 20
MAX_REFERENCES = 1000
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")
_TORCH_HUB = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(:[\w.-]+)?$")
_MAGIC = re.compile(r"^\s*[%!?]")
#: A recognised call names one of these in its source text (hf_hub_download and torch.hub.load through
#: `hub`). Python NFKC-normalises identifiers, so only ASCII source without any of them is known to
#: reference nothing. A call added to `references` needs its word here (tests check the known ones).
_CALL_WORDS = ("from_pretrained", "pipeline", "load_dataset", "snapshot_download", "SentenceTransformer", "hub")
#: `load_dataset` builders that read local or given files, not a hub dataset.
_BUILDERS = frozenset({"csv", "json", "parquet", "text", "arrow", "pandas", "sql", "generator", "imagefolder",
                       "audiofolder", "videofolder", "webdataset", "xml", "folder_based_builder"})  # fmt: skip


@dataclass(frozen=True)
class Reference:
    kind: Kind
    hub_id: str
    call: str
    line: int
    revision: str | None = None
    hub: str = "huggingface"


def _str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _call_name(func: ast.AST) -> tuple[str, str]:
    """(last name, dotted name) of the called function, e.g. ('load', 'torch.hub.load')."""
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return (parts[0] if parts else ""), ".".join(reversed(parts))


def _arg(call: ast.Call, index: int, *keywords: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg in keywords:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def references(tree: ast.AST) -> list[Reference]:
    """Every recognised hub reference in a parsed module, in source order."""
    found: list[Reference] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        last, dotted = _call_name(node.func)
        revision = _str(_arg(node, 99, "revision"))
        ref: tuple[Kind, str | None] | None = None
        if last == "from_pretrained":
            ref = (Kind.MODEL, _str(_arg(node, 0, "pretrained_model_name_or_path")))
        elif last == "pipeline":
            ref = (Kind.MODEL, _str(_arg(node, 1, "model")))
        elif last == "load_dataset":
            name = _str(_arg(node, 0, "path"))
            ref = (Kind.DATASET, None if name and name.lower() in _BUILDERS else name)
        elif last in ("hf_hub_download", "snapshot_download"):
            repo_type = _str(_arg(node, 99, "repo_type"))
            ref = (Kind.DATASET if repo_type == "dataset" else Kind.MODEL, _str(_arg(node, 0, "repo_id")))
        elif last == "SentenceTransformer":
            ref = (Kind.MODEL, _str(_arg(node, 0, "model_name_or_path")))
        elif dotted.endswith("hub.load") and dotted.split(".")[0] in ("torch", "hub"):
            repo, model = _str(_arg(node, 0, "repo_or_dir")), _str(_arg(node, 1, "model"))
            if repo and model and _TORCH_HUB.match(repo) and _str(_arg(node, 99, "source")) != "local":
                found.append(Reference(Kind.MODEL, f"{repo}#{model}", dotted, node.lineno, hub="torch-hub"))
            continue
        if ref is not None and ref[1]:
            found.append(Reference(ref[0], ref[1], last, node.lineno, revision))
    found.sort(key=lambda r: r.line)
    return found


def may_reference(source: str) -> bool:
    """False when `source` cannot hold a recognised call, so parsing it would find nothing (most code)."""
    return not source.isascii() or any(word in source for word in _CALL_WORDS)


def is_local(value: str, probe: Probe) -> bool:
    """A path (relative to the root or to the file's folder) rather than a hub id."""
    if value.startswith((".", "/", "~")) or "\\" in value or not _HUB_ID.match(value):
        return True
    for base in (probe.root, os.path.join(probe.root, probe.folder)):
        if base:
            readdeps.note(os.path.join(base, value))
        if base and os.path.lexists(os.path.join(base, value)):
            return True
    return False


def external_artifact(ref: Reference, evidence: Evidence) -> Artifact:
    if ref.hub == "torch-hub":
        repo = ref.hub_id.split("#", 1)[0].split(":", 1)[0]
        key, url = f"torch-hub:{ref.hub_id}", f"https://github.com/{repo}"
    elif ref.kind is Kind.DATASET:
        key, url = f"hf:datasets/{ref.hub_id}", f"https://huggingface.co/datasets/{ref.hub_id}"
    else:
        key, url = f"hf:{ref.hub_id}", f"https://huggingface.co/{ref.hub_id}"
    artifact = Artifact(kind=ref.kind, name=ref.hub_id, ref=key, format="external-reference", evidence=[evidence])
    artifact.provenance.append(Provenance(ref.hub, url))
    artifact.properties["aibom:external"] = "true"
    artifact.properties["aibom:reference:call"] = ref.call
    if ref.revision:
        artifact.properties["aibom:reference:revision"] = ref.revision[:200]
    if ref.kind is Kind.DATASET:
        artifact.properties["aibom:dataset:id"] = ref.hub_id
    return artifact


def notebook_cells(text: str) -> list[str]:
    """Code cells of a notebook, IPython magics and shell lines blanked (line numbers kept)."""
    doc = json.loads(text)
    cells = doc.get("cells") if isinstance(doc, dict) else None
    out = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        code = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
        if isinstance(code, str):
            out.append("\n".join("" if _MAGIC.match(ln) else ln for ln in code.split("\n")))
    return out


@register
class CodeReferenceScanner(Scanner):
    family = "python-code"
    priority = 550

    def identify(self, probe: Probe) -> str | None:
        name = probe.name.lower()
        if name.endswith((".py", ".pyw")) and looks_like_text(probe.head):
            return "python-source"
        if name.endswith(".ipynb") and probe.head.lstrip()[:1] == b"{" and looks_like_text(probe.head):
            return "jupyter-notebook"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        limit = MAX_SOURCE_BYTES if fmt == "python-source" else MAX_NOTEBOOK_BYTES
        text = probe.read_text(limit)
        if text is None:
            self.not_parsed(probe, out, f"larger than {limit} bytes or not text")
            return
        try:
            sources = [text] if fmt == "python-source" else notebook_cells(text)
        except (ValueError, RecursionError) as exc:
            self.not_parsed(probe, out, f"invalid notebook JSON: {str(exc)[:120]}")
            return
        count = 0
        for index, source in enumerate(sources):
            if not may_reference(source):  # nothing to find: not parsed (nor reported when unparsable)
                continue
            try:
                tree = ast.parse(source, filename=probe.relpath)
                refs = references(tree)
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                where = f"cell {index + 1}: " if fmt == "jupyter-notebook" else ""
                self.not_parsed(probe, out, f"{where}{type(exc).__name__}: {str(exc)[:120]}")
                continue
            for ref in refs:
                if ref.hub == "huggingface" and is_local(ref.hub_id, probe):
                    continue
                count += 1
                if count > MAX_REFERENCES:
                    return
                symbol = f"cell {index + 1}" if fmt == "jupyter-notebook" else ref.call
                out.artifacts.append(external_artifact(ref, Evidence(probe.relpath, line=ref.line, symbol=symbol)))

    @staticmethod
    def not_parsed(probe: Probe, out: ScanOutput, message: str) -> None:
        out.findings.append(
            Finding(
                rule="code-not-parsed",
                category=Category.UNREADABLE,
                severity=Severity.INFO,
                message=f"Python code not parsed, so the models and datasets it loads are not listed: {message}",
                location=probe.relpath,
                remediation="Make the file valid Python 3 if it is part of the project, or exclude it.",
            )
        )
