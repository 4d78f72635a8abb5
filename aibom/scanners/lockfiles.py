"""Lock files: `poetry.lock`, `uv.lock`, `pdm.lock`, `Pipfile.lock` and conda `environment.yml`.

Every locked package becomes a versioned library artifact with its dependency edges. Packages the
lock file marks as the project's own requirements are direct; the others are transitive (direct
ones declared in `pyproject.toml` are folded in later, see `aibom.deps.link`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from packaging.utils import canonicalize_name

from ..deps.model import SCOPE_RANK, dependency
from ..inventory import Artifact, Provenance
from ..sniff import Probe, looks_like_text
from ..yaml_load import YamlError, load_yaml
from . import register
from .base import Scanner, ScanOutput
from .pyproject import MAX_ENTRIES, Collector, _warn, group_scope, parse_toml

MAX_LOCK_BYTES = 32 << 20
_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.+-]*)\s*(.*)$")
_NAMES = {
    "poetry.lock": "poetry-lock",
    "uv.lock": "uv-lock",
    "pdm.lock": "pdm-lock",
    "Pipfile.lock": "pipfile-lock",
    "environment.yml": "conda-environment",
    "environment.yaml": "conda-environment",
}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _packages(doc: dict[str, Any]) -> list[dict[str, Any]]:
    packages = doc.get("package")
    return [p for p in packages[: MAX_ENTRIES + 1] if isinstance(p, dict)] if isinstance(packages, list) else []


def _dep_names(value: object) -> list[str]:
    """Names from a TOML dependency table, a list of `{name = ...}` tables or of requirement strings."""
    from packaging.requirements import InvalidRequirement, Requirement  # ~15 ms: only when a lock file is read

    names: list[str] = []
    if isinstance(value, dict):
        names = [str(k) for k in value]
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.append(item["name"])
            elif isinstance(item, str):
                try:
                    names.append(Requirement(item).name)
                except InvalidRequirement:
                    continue
    return [canonicalize_name(n) for n in names if n.lower() != "python"]


class LockGraph:
    """Locked packages by canonical name, edges resolved to the locked versions once all are known."""

    def __init__(self, probe: Probe, out: ScanOutput) -> None:
        self.probe = probe
        self.collector = Collector(probe, out)
        self.by_name: dict[str, Artifact] = {}
        self.edges: dict[str, list[str]] = {}

    def package(self, name: object, version: object, deps: list[str], scope: str | None = None) -> Artifact | None:
        if not isinstance(name, str) or not name:
            _warn(self.collector.out, self.probe, "a locked package without a name")
            return None
        art = dependency(name, _str(version), location=self.probe.relpath, scope=scope, direct=False)
        art.properties["aibom:dependency:locked"] = "true"
        key = canonicalize_name(name)
        if key in self.by_name:  # the same package locked for two environments: keep the first version
            return self.by_name[key]
        self.by_name[key] = art
        self.edges[key] = deps
        self.collector.add(art, name)
        return art

    def mark_direct(self, names: list[str], scope: str, group: str | None = None) -> None:
        for name in names:
            art = self.by_name.get(canonicalize_name(name))
            if art is None:
                continue
            art.properties["aibom:dependency:direct"] = "true"
            old = art.properties.get("aibom:dependency:scope")
            if old is None or SCOPE_RANK[scope] > SCOPE_RANK[old]:
                art.properties["aibom:dependency:scope"] = scope
            if group:
                groups = set(filter(None, art.properties.get("aibom:dependency:group", "").split(",")))
                art.properties["aibom:dependency:group"] = ",".join(sorted(groups | {group}))

    def finish(self) -> None:
        for key, deps in self.edges.items():
            art = self.by_name[key]
            for dep in deps:
                target = self.by_name.get(dep)
                if target is not None and target.ref != art.ref and target.ref not in art.depends_on:
                    art.depends_on.append(target.ref)


def poetry_lock(doc: dict[str, Any], graph: LockGraph) -> None:
    for pkg in _packages(doc):
        category = pkg.get("category")
        scope = "dev" if category == "dev" else ("runtime" if category == "main" else None)
        if pkg.get("optional") is True and scope == "runtime":
            scope = "optional"
        art = graph.package(pkg.get("name"), pkg.get("version"), _dep_names(pkg.get("dependencies")), scope)
        source = pkg.get("source")
        if art is not None and isinstance(source, dict) and source.get("type") in ("git", "url"):
            art.provenance.append(Provenance("vcs" if source["type"] == "git" else "url", _str(source.get("url"))))


def uv_lock(doc: dict[str, Any], graph: LockGraph) -> None:
    roots: list[dict[str, Any]] = []
    for pkg in _packages(doc):
        source = pkg.get("source")
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            roots.append(pkg)  # the project itself (or a workspace member), not a dependency
            continue
        deps = _dep_names(pkg.get("dependencies"))
        optional = pkg.get("optional-dependencies")
        if isinstance(optional, dict):
            for items in optional.values():
                deps += _dep_names(items)
        graph.package(pkg.get("name"), pkg.get("version"), deps)
    for root in roots:
        graph.mark_direct(_dep_names(root.get("dependencies")), "runtime")
        for field, default in (("optional-dependencies", "optional"), ("dev-dependencies", "dev")):
            table = root.get(field)
            if isinstance(table, dict):
                for group, items in table.items():
                    scope = default if default == "dev" else group_scope(str(group))
                    graph.mark_direct(_dep_names(items), scope, str(group))


def pdm_lock(doc: dict[str, Any], graph: LockGraph) -> None:
    for pkg in _packages(doc):
        groups = [g for g in pkg.get("groups", []) if isinstance(g, str)] if isinstance(pkg.get("groups"), list) else []
        scopes = {"runtime" if g == "default" else group_scope(g) for g in groups}
        scope = next((s for s in ("runtime", "optional", "dev") if s in scopes), None)
        art = graph.package(pkg.get("name"), pkg.get("version"), _dep_names(pkg.get("dependencies")), scope)
        if art is not None and groups:
            art.properties["aibom:dependency:group"] = ",".join(sorted(groups))


def pipfile_lock(doc: dict[str, Any], graph: LockGraph) -> None:
    for section, scope in (("default", "runtime"), ("develop", "dev")):
        table = doc.get(section)
        if not isinstance(table, dict):
            continue
        for name, spec in list(table.items())[: MAX_ENTRIES + 1]:
            if not isinstance(spec, dict):
                continue
            raw = _str(spec.get("version"))
            version = raw[2:] if raw and raw.startswith("==") else None
            art = graph.package(name, version, [], scope)
            if art is None:
                continue
            raw_hashes = spec.get("hashes")
            hashes = [h for h in raw_hashes if isinstance(h, str)] if isinstance(raw_hashes, list) else []
            if hashes:
                art.properties["aibom:requirement:hashes"] = ",".join(sorted(hashes))
            if vcs := _str(spec.get("git")):
                art.provenance.append(Provenance("vcs", vcs))


def conda_environment(doc: object, probe: Probe, out: ScanOutput) -> None:
    """Conda packages as `pkg:conda` libraries and the `pip:` sub-list as `pkg:pypi` ones (all direct)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
        out.unreadable(probe, "conda-environment", "no `dependencies` list")
        return
    collector = Collector(probe, out)
    for item in doc["dependencies"][: MAX_ENTRIES + 1]:
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            collector.pep508_list(item["pip"], scope="runtime")
            continue
        if not isinstance(item, str) or not item.strip():
            continue
        m = _CONDA_SPEC.match(item.strip().split("::", 1)[-1])
        if m is None:
            _warn(out, probe, f"not a conda package spec: {item[:120]!r}")
            continue
        name, rest = m.group(1), m.group(2).replace(" ", "")
        version = rest.lstrip("=").split("=", 1)[0] if rest.startswith("=") else None
        if version and any(c in version for c in "*<>,|!"):
            version = None
        if not name or name == "python" or name == "pip":
            continue
        art = dependency(name, version, location=probe.relpath, scope="runtime", direct=True, ptype="conda")
        art.properties["aibom:requirement"] = item.strip()[:200]
        collector.add(art, item)


@register
class LockFileScanner(Scanner):
    family = "python-lock"
    priority = 42

    def identify(self, probe: Probe) -> str | None:
        fmt = _NAMES.get(probe.name)
        if fmt and looks_like_text(probe.head):
            if fmt == "conda-environment" and b"dependencies" not in probe.head:
                return None
            return fmt
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        if fmt == "conda-environment":
            text = probe.read_text(4 << 20)
            if text is None:
                out.unreadable(probe, fmt, "larger than 4 MiB or not text")
                return
            try:
                doc = load_yaml(text, 4 << 20)
            except YamlError as exc:
                out.unreadable(probe, fmt, f"invalid YAML: {exc}")
                return
            conda_environment(doc, probe, out)
            return
        graph = LockGraph(probe, out)
        if fmt == "pipfile-lock":
            text = probe.read_text(MAX_LOCK_BYTES)
            if text is None:
                out.unreadable(probe, fmt, f"larger than {MAX_LOCK_BYTES} bytes or not text")
                return
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError) as exc:
                out.unreadable(probe, fmt, f"invalid JSON: {str(exc)[:200]}")
                return
            if not isinstance(doc, dict):
                out.unreadable(probe, fmt, "not a JSON object")
                return
            pipfile_lock(doc, graph)
        else:
            doc = parse_toml(probe, fmt, out, MAX_LOCK_BYTES)
            if doc is None:
                return
            {"poetry-lock": poetry_lock, "uv-lock": uv_lock, "pdm-lock": pdm_lock}[fmt](doc, graph)
        graph.finish()
