"""A small, format-neutral view of a CycloneDX BOM (JSON or XML) for diffing and merging.

Only what `aibom diff` compares is read: identity, version, hashes, licenses, properties, evidence locations,
pedigree ancestors and dependency edges. Nested components are flattened (depth-bounded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .docs import MAX_NESTING, Document

MAX_DEPTH = MAX_NESTING  # documents come through docs.identify, which refuses anything deeper


@dataclass
class Comp:
    ref: str
    name: str
    type: str = ""
    version: str | None = None
    purl: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    licenses: list[str] = field(default_factory=list)
    properties: list[tuple[str, str]] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    ancestors: list[str] = field(default_factory=list)  # names/purls/refs of pedigree ancestors

    def prop(self, name: str) -> str | None:
        return next((v for k, v in self.properties if k == name), None)

    def props(self, name: str) -> list[str]:
        return [v for k, v in self.properties if k == name]

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("SHA-256")

    @property
    def label(self) -> str:
        where = f" ({self.locations[0]})" if self.locations else ""
        version = f"@{self.version}" if self.version else ""
        return f"{self.name}{version}{where}"


@dataclass
class BomView:
    components: list[Comp]
    dependencies: dict[str, list[str]]
    metadata_properties: list[tuple[str, str]]
    root_ref: str | None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_license(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("expression"), str):
        return entry["expression"]
    lic = entry.get("license")
    if isinstance(lic, dict):
        return _str(lic.get("id")) or _str(lic.get("name"))
    return None


def _json_comp(c: dict[str, Any], index: int) -> Comp:
    props = [
        (p["name"], p.get("value", ""))
        for p in c.get("properties", []) or []
        if isinstance(p, dict) and isinstance(p.get("name"), str) and isinstance(p.get("value", ""), str)
    ]
    occurrences = ((c.get("evidence") or {}).get("occurrences") or []) if isinstance(c.get("evidence"), dict) else []
    ancestors = ((c.get("pedigree") or {}).get("ancestors") or []) if isinstance(c.get("pedigree"), dict) else []
    return Comp(
        ref=_str(c.get("bom-ref")) or f"(component {index})",
        name=_str(c.get("name")) or "",
        type=_str(c.get("type")) or "",
        version=_str(c.get("version")),
        purl=_str(c.get("purl")),
        hashes={
            h["alg"]: h["content"].lower() for h in c.get("hashes", []) or [] if isinstance(h, dict) and "alg" in h
        },
        licenses=sorted(x for x in (_json_license(e) for e in c.get("licenses", []) or []) if x),
        properties=props,
        locations=[o["location"] for o in occurrences if isinstance(o, dict) and isinstance(o.get("location"), str)],
        ancestors=sorted(
            _str(a.get("bom-ref")) or _str(a.get("purl")) or _str(a.get("name")) or "?"
            for a in ancestors
            if isinstance(a, dict)
        ),
    )


def _from_json(data: dict[str, Any]) -> BomView:
    comps: list[Comp] = []

    def walk(items: Any, depth: int) -> None:
        if not isinstance(items, list) or depth > MAX_DEPTH:
            return
        for c in items:
            if isinstance(c, dict):
                comps.append(_json_comp(c, len(comps)))
                walk(c.get("components"), depth + 1)

    walk(data.get("components"), 0)
    deps: dict[str, list[str]] = {}
    for d in data.get("dependencies", []) or []:
        if isinstance(d, dict) and isinstance(d.get("ref"), str):
            deps[d["ref"]] = [x for x in d.get("dependsOn", []) or [] if isinstance(x, str)]
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    meta_props = [
        (p["name"], p.get("value", ""))
        for p in meta.get("properties", []) or []
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    ]
    root = meta.get("component") if isinstance(meta.get("component"), dict) else {}
    return BomView(comps, deps, meta_props, _str(root.get("bom-ref")))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: Any, name: str) -> Any:
    return next((c for c in el if _local(c.tag) == name), None)


def _text(el: Any, name: str) -> str | None:
    c = _child(el, name)
    return c.text.strip() if c is not None and c.text else None


def _xml_comp(el: Any, index: int) -> Comp:
    props = [(p.get("name", ""), p.text or "") for p in (_child(el, "properties") or [])]
    hashes = {h.get("alg", ""): (h.text or "").strip().lower() for h in (_child(el, "hashes") or [])}
    licenses: list[str] = []
    for entry in _child(el, "licenses") or []:
        if _local(entry.tag) == "expression" and entry.text:
            licenses.append(entry.text.strip())
        elif _local(entry.tag) == "license":
            value = _text(entry, "id") or _text(entry, "name")
            if value:
                licenses.append(value)
    evidence = _child(el, "evidence")
    occurrences = _child(evidence, "occurrences") if evidence is not None else None
    pedigree = _child(el, "pedigree")
    ancestors = _child(pedigree, "ancestors") if pedigree is not None else None
    return Comp(
        ref=el.get("bom-ref") or f"(component {index})",
        name=_text(el, "name") or "",
        type=el.get("type", ""),
        version=_text(el, "version"),
        purl=_text(el, "purl"),
        hashes=hashes,
        licenses=sorted(licenses),
        properties=props,
        locations=[o.findtext("{*}location") or "" for o in (occurrences or [])],
        ancestors=sorted(a.get("bom-ref") or _text(a, "purl") or _text(a, "name") or "?" for a in (ancestors or [])),
    )


def _from_xml(root: Any) -> BomView:
    comps: list[Comp] = []

    def walk(holder: Any, depth: int) -> None:
        if holder is None or depth > MAX_DEPTH:
            return
        for el in holder:
            if _local(el.tag) == "component":
                comps.append(_xml_comp(el, len(comps)))
                walk(_child(el, "components"), depth + 1)

    walk(_child(root, "components"), 0)
    deps: dict[str, list[str]] = {}
    for d in _child(root, "dependencies") or []:
        if d.get("ref"):
            deps[d.get("ref")] = [x.get("ref") for x in d if x.get("ref")]
    meta = _child(root, "metadata")
    meta_props = (
        [(p.get("name", ""), p.text or "") for p in (_child(meta, "properties") or [])] if meta is not None else []
    )
    comp = _child(meta, "component") if meta is not None else None
    return BomView(comps, deps, meta_props, comp.get("bom-ref") if comp is not None else None)


def view(doc: Document) -> BomView:
    if doc.kind != "cyclonedx":
        raise ValueError(f"{doc.label} is not a CycloneDX BOM")
    return _from_json(doc.data) if doc.syntax == "json" else _from_xml(doc.data)
