"""Differences between two CycloneDX BOMs: components, lineage, and aibom findings.

Components are matched by bom-ref, then purl, then evidence location (first occurrence). Findings are the
`aibom:finding` properties (JSON) on components and on the metadata; one is identified by its component,
rule, category, location and message, so a finding that moved to another line is new + resolved.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .bom_view import BomView, Comp

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
_FIELDS = ("version", "sha256", "licenses", "openness")


@dataclass
class Change:
    component: str
    field: str
    old: Any
    new: Any


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    lineage_added: list[str] = field(default_factory=list)  # "child <- ancestor" and "a -> b" edges
    lineage_removed: list[str] = field(default_factory=list)
    new_findings: list[dict[str, Any]] = field(default_factory=list)
    resolved_findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(asdict(self).values())

    def worst_new(self) -> int:
        return max((SEVERITY_RANK.get(str(f.get("severity")), 0) for f in self.new_findings), default=-1)


def _value(comp: Comp, name: str) -> Any:
    if name == "openness":
        return comp.prop("aibom:openness")
    if name == "licenses":
        return " AND ".join(comp.licenses) or None
    return getattr(comp, name)


def _versionless(purl: str | None) -> str | None:
    if not purl:
        return None
    return purl.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[0]


def _unique_location(comps: list[Comp]):  # type: ignore[no-untyped-def]
    counts: dict[str, int] = {}
    for c in comps:
        if c.locations:
            counts[c.locations[0]] = counts.get(c.locations[0], 0) + 1
    return lambda c: c.locations[0] if c.locations and counts.get(c.locations[0]) == 1 else None


def match(old: list[Comp], new: list[Comp]) -> dict[int, int]:
    """new index -> old index: by bom-ref, then purl, then purl without version (a version bump), then
    evidence location when only one component has it on each side (files; not the many entries of one lock file).
    """
    pairs: dict[int, int] = {}
    taken: set[int] = set()
    loc_old, loc_new = _unique_location(old), _unique_location(new)
    steps = [
        (lambda c: c.ref if not c.ref.startswith("(component ") else None,) * 2,
        (lambda c: c.purl,) * 2,
        (lambda c: _versionless(c.purl),) * 2,
        (loc_old, loc_new),
    ]
    for key_old, key_new in steps:
        index: dict[str, int] = {}
        for i, c in enumerate(old):
            k = key_old(c)
            if k and i not in taken:
                index.setdefault(k, i)
        for j, c in enumerate(new):
            k = key_new(c)
            if j in pairs or not k or k not in index or index[k] in taken:
                continue
            pairs[j] = index[k]
            taken.add(index[k])
    return pairs


def _findings(view: BomView) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    sources = [("(project)", view.metadata_properties)] + [(c.label, c.properties) for c in view.components]
    for label, props in sources:
        for name, value in props:
            if name != "aibom:finding":
                continue
            try:
                finding = json.loads(value)
            except ValueError:
                finding = {"message": value}
            if not isinstance(finding, dict):
                finding = {"message": str(finding)}
            finding = {"component": label, **finding}
            key = json.dumps(
                [label, finding.get("rule"), finding.get("category"), finding.get("location"), finding.get("message")]
            )
            out[key] = finding
    return out


def diff(old: BomView, new: BomView) -> Diff:
    result = Diff()
    pairs = match(old.components, new.components)
    matched_old = set(pairs.values())
    result.added = sorted(c.label for j, c in enumerate(new.components) if j not in pairs)
    result.removed = sorted(c.label for i, c in enumerate(old.components) if i not in matched_old)
    for j, i in sorted(pairs.items()):
        a, b = old.components[i], new.components[j]
        for name in _FIELDS:
            before, after = _value(a, name), _value(b, name)
            if before != after:
                result.changed.append(Change(b.label, name, before, after))
    result.changed.sort(key=lambda c: (c.component, _FIELDS.index(c.field)))
    # Lineage: ancestors and dependency edges, named by the new side's identity of each component.
    ident_old = {c.ref: c.label for c in old.components}
    ident_new = {c.ref: c.label for c in new.components}
    for j, i in pairs.items():
        ident_old[old.components[i].ref] = new.components[j].label
    for ref in (old.root_ref, new.root_ref):
        if ref:
            ident_old[ref] = ident_new[ref] = "(project)"

    def edges(view: BomView, ident: dict[str, str]) -> set[str]:
        out = {
            f"{ident.get(c.ref, c.label)} <- ancestor {ident.get(a, a)}" for c in view.components for a in c.ancestors
        }
        for ref, targets in view.dependencies.items():
            out |= {f"{ident.get(ref, ref)} -> {ident.get(t, t)}" for t in targets}
        return out

    before, after = edges(old, ident_old), edges(new, ident_new)
    result.lineage_added = sorted(after - before)
    result.lineage_removed = sorted(before - after)
    f_old, f_new = _findings(old), _findings(new)
    result.new_findings = [f_new[k] for k in sorted(f_new.keys() - f_old.keys())]
    result.resolved_findings = [f_old[k] for k in sorted(f_old.keys() - f_new.keys())]
    return result


def _finding_line(f: dict[str, Any]) -> str:
    where = f.get("location") or f.get("component")
    return f"{f.get('severity', '?')} [{f.get('category', '?')}] {where}: {f.get('message', '')}"


def as_json(d: Diff) -> str:
    return json.dumps(asdict(d), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def as_text(d: Diff) -> str:
    if d.empty:
        return "No differences.\n"
    lines: list[str] = []
    for title, items in (
        ("Added components", d.added),
        ("Removed components", d.removed),
        ("Changed components", [f"{c.component}: {c.field} {c.old} -> {c.new}" for c in d.changed]),
        ("Lineage added", d.lineage_added),
        ("Lineage removed", d.lineage_removed),
        ("New findings", [_finding_line(f) for f in d.new_findings]),
        ("Resolved findings", [_finding_line(f) for f in d.resolved_findings]),
    ):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines += [f"  {item}" for item in items]
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def as_markdown(d: Diff) -> str:
    counts = (
        f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed; "
        f"{len(d.new_findings)} new and {len(d.resolved_findings)} resolved findings"
    )
    out = ["## aibom: BOM changes", "", counts, ""]
    for title, items in (("Added", d.added), ("Removed", d.removed)):
        if items:
            out += [f"### {title} components", "", *[f"- `{_md(i)}`" for i in items], ""]
    if d.changed:
        out += ["### Changed components", "", "| component | field | old | new |", "| --- | --- | --- | --- |"]
        out += [f"| `{_md(c.component)}` | {c.field} | {_md(c.old)} | {_md(c.new)} |" for c in d.changed]
        out.append("")
    for title, items in (("Lineage added", d.lineage_added), ("Lineage removed", d.lineage_removed)):
        if items:
            out += [f"### {title}", "", *[f"- `{_md(i)}`" for i in items], ""]
    for title, findings in (("New findings", d.new_findings), ("Resolved findings", d.resolved_findings)):
        if findings:
            out += [f"### {title}", "", "| severity | category | where | message |", "| --- | --- | --- | --- |"]
            out += [
                f"| {_md(f.get('severity', ''))} | {_md(f.get('category', ''))} | "
                f"`{_md(f.get('location') or f.get('component'))}` | {_md(f.get('message', ''))} |"
                for f in findings
            ]
            out.append("")
    return "\n".join(out)
