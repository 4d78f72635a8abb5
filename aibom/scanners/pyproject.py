"""Project metadata files: `pyproject.toml` (PEP 621, PEP 639, PEP 735, Poetry) and `setup.cfg`.

Declared dependencies become library artifacts with their scope (runtime / optional / dev) and
group; the project's declared license becomes a license declaration for its folder (the root's
one is the BOM's own license).
"""

from __future__ import annotations

import configparser
import re
import tomllib
from typing import Any

from ..deps.model import DEV_GROUP_NAMES, dependency
from ..deps.requirement import from_pep508
from ..inventory import Artifact, Category, Finding, License, LicenseFile, Provenance, Severity
from ..license_ids import identify_text, spdx_expression
from ..sniff import Probe, looks_like_text
from . import register
from .base import Scanner, ScanOutput

MAX_BYTES = 4 << 20
MAX_ENTRIES = 20_000
MAX_GROUP_INCLUDES = 64
_POETRY_EXACT = re.compile(r"^\d+(\.\d+)*([a-z]+\d*)?$", re.IGNORECASE)


def parse_toml(probe: Probe, fmt: str, out: ScanOutput, limit: int = MAX_BYTES) -> dict[str, Any] | None:
    """The TOML document, or None after recording it as unreadable."""
    text = probe.read_text(limit)
    if text is None:
        out.unreadable(probe, fmt, f"larger than {limit} bytes or not text")
        return None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        out.unreadable(probe, fmt, f"invalid TOML: {str(exc)[:200]}")
        return None


def _warn(out: ScanOutput, probe: Probe, message: str) -> None:
    out.findings.append(
        Finding(
            rule="dependency-entry-unreadable",
            category=Category.UNREADABLE,
            severity=Severity.WARNING,
            message=message[:300],
            location=probe.relpath,
            remediation="Fix the entry so packaging tools can read it; aibom cannot tell which package it means.",
        )
    )


class Collector:
    """Adds dependencies of one file, bounded in number, warning about entries it cannot read."""

    def __init__(self, probe: Probe, out: ScanOutput) -> None:
        self.probe = probe
        self.out = out
        self.count = 0

    def add(self, artifact: Artifact | None, raw: object) -> None:
        if artifact is None:
            _warn(self.out, self.probe, f"not a valid requirement: {str(raw)[:120]!r}")
            return
        self.count += 1
        if self.count <= MAX_ENTRIES:
            self.out.artifacts.append(artifact)
        elif self.count == MAX_ENTRIES + 1:
            _warn(self.out, self.probe, f"more than {MAX_ENTRIES} dependencies; the rest are not listed")

    def pep508_list(self, items: object, *, scope: str, group: str | None = None) -> None:
        if not isinstance(items, list):
            if items is not None:
                _warn(self.out, self.probe, f"expected a list of requirements for {group or 'dependencies'}")
            return
        for item in items[: MAX_ENTRIES + 1]:
            self.add(from_pep508(item, self.probe.relpath, scope=scope, group=group), item)


def group_scope(name: str) -> str:
    return "dev" if name.lower() in DEV_GROUP_NAMES else "optional"


def declared_license(project: dict[str, Any], probe: Probe) -> License | None:
    """PEP 639 `license = "EXPR"`, or the older `license = {text = ...}` / `{file = ...}` table."""
    value = project.get("license")
    if isinstance(value, str):
        expr = spdx_expression(value)
        return License(expression=expr) if expr else License(name=value[:200])
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            text = value["text"]
            if expr := spdx_expression(text):
                return License(expression=expr)
            found = identify_text(text) if len(text) > 200 else None
            return found or License(name=text.strip()[:200])
        if isinstance(value.get("file"), str):
            return None  # the license file itself is scanned where it lies
    return None


def _dependency_groups(groups: object, collector: Collector) -> None:
    """PEP 735 `[dependency-groups]`: lists of requirements and `{include-group = "name"}` tables."""
    if not isinstance(groups, dict):
        return
    for name, items in groups.items():
        if not isinstance(items, list):
            continue
        seen: set[str] = {name}
        stack = [items]
        while stack and len(seen) <= MAX_GROUP_INCLUDES:
            for item in stack.pop():
                if isinstance(item, dict) and isinstance(item.get("include-group"), str):
                    inc = item["include-group"]
                    if inc not in seen and isinstance(groups.get(inc), list):
                        seen.add(inc)
                        stack.append(groups[inc])
                    continue
                art = from_pep508(item, collector.probe.relpath, scope=group_scope(name), group=name)
                collector.add(art, item)


def _poetry_entry(name: str, spec: object, location: str, scope: str, group: str | None) -> Artifact | None:
    version = None
    extra: dict[str, str] = {}
    if isinstance(spec, list):  # multiple-constraint form: take the first table's source, no pin
        spec = next((s for s in spec if isinstance(s, dict)), {})
    if isinstance(spec, str):
        version = spec if _POETRY_EXACT.match(spec) else None
        extra["aibom:requirement"] = f"{name} ({spec})"
    elif isinstance(spec, dict):
        raw = spec.get("version")
        if isinstance(raw, str):
            version = raw if _POETRY_EXACT.match(raw) else None
            extra["aibom:requirement"] = f"{name} ({raw})"
        if spec.get("optional") is True and scope == "runtime":
            scope = "optional"
    else:
        return None
    art = dependency(name, version, location=location, scope=scope, group=group, direct=True)
    art.properties.update(extra)
    if isinstance(spec, dict):
        for vcs in ("git", "hg", "url"):
            if isinstance(spec.get(vcs), str):
                art.provenance.append(Provenance("vcs" if vcs != "url" else "url", spec[vcs]))
    return art


def _poetry(poetry: dict[str, Any], collector: Collector) -> None:
    tables: list[tuple[object, str, str | None]] = [(poetry.get("dependencies"), "runtime", None)]
    tables.append((poetry.get("dev-dependencies"), "dev", "dev"))
    groups = poetry.get("group")
    if isinstance(groups, dict):
        for gname, g in groups.items():
            if isinstance(g, dict):
                scope = "optional" if g.get("optional") is True and gname not in DEV_GROUP_NAMES else "dev"
                scope = "runtime" if gname == "main" else scope
                tables.append((g.get("dependencies"), scope, gname))
    for table, scope, group in tables:
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            if name.lower() == "python":
                continue
            art = _poetry_entry(name, spec, collector.probe.relpath, scope, group)
            collector.add(art, f"{name} = {spec!r}")


@register
class PyprojectScanner(Scanner):
    family = "python-project"
    priority = 41

    def identify(self, probe: Probe) -> str | None:
        if not looks_like_text(probe.head):
            return None
        if probe.name == "pyproject.toml":
            return "pyproject-toml"
        if probe.name == "setup.cfg":
            return "setup-cfg"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        if fmt == "setup-cfg":
            self.scan_setup_cfg(probe, out)
            return
        doc = parse_toml(probe, fmt, out)
        if doc is None:
            return
        collector = Collector(probe, out)
        project = doc.get("project")
        if isinstance(project, dict):
            collector.pep508_list(project.get("dependencies"), scope="runtime")
            optional = project.get("optional-dependencies")
            if isinstance(optional, dict):
                for extra, items in optional.items():
                    collector.pep508_list(items, scope="optional", group=str(extra))
            lic = declared_license(project, probe)
            if lic is not None:
                self.record_license(probe, out, lic)
        _dependency_groups(doc.get("dependency-groups"), collector)
        tool = doc.get("tool")
        poetry = tool.get("poetry") if isinstance(tool, dict) else None
        if isinstance(poetry, dict):
            _poetry(poetry, collector)
            if not isinstance(project, dict) or "license" not in project:
                lic = declared_license({"license": poetry.get("license")}, probe)
                if lic is not None:
                    self.record_license(probe, out, lic)

    @staticmethod
    def record_license(probe: Probe, out: ScanOutput, lic: License) -> None:
        lic.source = probe.relpath
        lic.acknowledgement = "declared"
        out.license_files.append(LicenseFile(probe.relpath, probe.folder, lic))

    def scan_setup_cfg(self, probe: Probe, out: ScanOutput) -> None:
        text = probe.read_text(MAX_BYTES)
        if text is None:
            out.unreadable(probe, "setup-cfg", f"larger than {MAX_BYTES} bytes or not text")
            return
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=probe.relpath)
        except configparser.Error as exc:
            out.unreadable(probe, "setup-cfg", f"invalid INI: {str(exc)[:200]}")
            return
        collector = Collector(probe, out)
        if parser.has_option("options", "install_requires"):
            collector.pep508_list(_cfg_list(parser.get("options", "install_requires")), scope="runtime")
        if parser.has_section("options.extras_require"):
            for extra, value in parser.items("options.extras_require"):
                collector.pep508_list(_cfg_list(value), scope=group_scope(extra), group=extra)
        if parser.has_option("metadata", "license"):
            value = parser.get("metadata", "license").strip()
            if value:
                expr = spdx_expression(value)
                lic = License(expression=expr) if expr else License(name=value[:200])
                self.record_license(probe, out, lic)


def _cfg_list(value: str) -> list[str]:
    items = []
    for line in value.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            items.append(line)
    return items
