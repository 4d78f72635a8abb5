"""Merge CycloneDX JSON BOMs (e.g. aibom's with a container SBOM from Syft) without duplicates.

- The first BOM's metadata.component stays the subject; the other BOMs' subjects become components that
  it depends on.
- A component is a duplicate of one already kept when it has the same purl (normalised), or the same
  SHA-256 and name. The duplicate is dropped and every reference to it is pointed at the kept one.
- bom-refs that collide between different components of different BOMs are renamed `<ref>#<n>`
  (n = the BOM's position), and every `ref`/`bom-ref` value in that BOM is rewritten consistently.
- Dependencies are the union of all BOMs' edges after rewriting (self-edges and dangling refs dropped).
Top-level sections other than metadata, components and dependencies are not merged: `merge` reports them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import Any

from packageurl import PackageURL

from .. import __version__
from .cdx_basics import build_timestamp
from .docs import MAX_NESTING

MAX_DEPTH = MAX_NESTING  # documents come through docs.identify, which refuses anything deeper
MERGED = ("bomFormat", "specVersion", "serialNumber", "version", "metadata", "components", "dependencies", "$schema")


def _purl_key(purl: Any) -> str | None:
    if not isinstance(purl, str):
        return None
    try:
        return PackageURL.from_string(purl).to_string()
    except ValueError:
        return purl


def _sha256(comp: dict[str, Any]) -> str | None:
    for h in comp.get("hashes", []) or []:
        if isinstance(h, dict) and h.get("alg") == "SHA-256" and isinstance(h.get("content"), str):
            return h["content"].lower()
    return None


def _keys(comp: dict[str, Any]) -> list[str]:
    keys = []
    purl = _purl_key(comp.get("purl"))
    if purl:
        keys.append("purl:" + purl)
    sha = _sha256(comp)
    if sha and isinstance(comp.get("name"), str):
        keys.append(f"sha256:{sha}:{comp['name']}")
    return keys


def _rewrite(value: Any, mapping: dict[str, str], depth: int = 0) -> Any:
    """Every `ref`/`bom-ref`/`dependsOn` string in `value` mapped through `mapping` (in place)."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("ref", "bom-ref") and isinstance(item, str):
                value[key] = mapping.get(item, item)
            elif key == "dependsOn" and isinstance(item, list):
                value[key] = [mapping.get(x, x) if isinstance(x, str) else x for x in item]
            else:
                _rewrite(item, mapping, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _rewrite(item, mapping, depth + 1)
    return value


class _Merger:
    def __init__(self) -> None:
        self.by_key: dict[str, str] = {}  # identity key -> kept bom-ref
        self.refs: set[str] = set()
        self.components: list[dict[str, Any]] = []
        self.edges: dict[str, set[str]] = {}
        self.dropped = 0

    def _collect(self, comps: Any, n: int, mapping: dict[str, str], drop: set[int], depth: int) -> None:
        if not isinstance(comps, list) or depth > MAX_DEPTH:
            return
        for comp in comps:
            if not isinstance(comp, dict):
                continue
            ref = comp.get("bom-ref") if isinstance(comp.get("bom-ref"), str) else None
            kept = next((self.by_key[k] for k in _keys(comp) if k in self.by_key), None)
            if kept is not None:
                if ref:
                    mapping[ref] = kept
                drop.add(id(comp))
                self.dropped += 1
                continue
            if ref is not None:
                new_ref = ref if ref not in self.refs else f"{ref}#{n}"
                while new_ref in self.refs:
                    new_ref += "'"
                mapping[ref] = new_ref
                self.refs.add(new_ref)
                for k in _keys(comp):
                    self.by_key.setdefault(k, new_ref)
            self._collect(comp.get("components"), n, mapping, drop, depth + 1)

    def add(self, doc: dict[str, Any], n: int, subject: str | None) -> None:
        doc = copy.deepcopy(doc)
        comps = list(doc.get("components") or [])
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        root = meta.get("component") if isinstance(meta.get("component"), dict) else None
        if n > 0 and root is not None:
            comps.insert(0, root)  # another BOM's subject becomes a component of the merged one
        mapping: dict[str, str] = {}
        drop: set[int] = set()
        if n == 0 and root is not None and isinstance(root.get("bom-ref"), str):
            self.refs.add(root["bom-ref"])
            mapping[root["bom-ref"]] = root["bom-ref"]
        self._collect(comps, n, mapping, drop, 0)

        def prune(items: list[Any], depth: int) -> list[Any]:
            out = []
            for c in items:
                if isinstance(c, dict) and id(c) in drop:
                    continue
                if isinstance(c, dict) and isinstance(c.get("components"), list) and depth < MAX_DEPTH:
                    c["components"] = prune(c["components"], depth + 1)
                out.append(c)
            return out

        kept = prune(comps, 0)
        _rewrite(kept, mapping)
        self.components += kept
        for dep in doc.get("dependencies", []) or []:
            if isinstance(dep, dict) and isinstance(dep.get("ref"), str):
                source = mapping.get(dep["ref"], dep["ref"])
                targets = {mapping.get(t, t) for t in dep.get("dependsOn", []) or [] if isinstance(t, str)}
                self.edges.setdefault(source, set()).update(targets)
        if n > 0 and subject and root is not None and isinstance(root.get("bom-ref"), str):
            self.edges.setdefault(subject, set()).add(mapping.get(root["bom-ref"], root["bom-ref"]))


def _all_refs(components: list[Any], depth: int = 0) -> set[str]:
    out: set[str] = set()
    for c in components:
        if isinstance(c, dict) and depth <= MAX_DEPTH:
            if isinstance(c.get("bom-ref"), str):
                out.add(c["bom-ref"])
            out |= _all_refs(c.get("components") or [], depth + 1)
    return out


def merge(docs: list[dict[str, Any]], spec_version: str) -> tuple[dict[str, Any], list[str]]:
    """The merged document (not yet validated) and notes about what was not merged."""
    notes: list[str] = []
    first = docs[0]
    meta = copy.deepcopy(first.get("metadata") or {})
    subject = meta.get("component", {}).get("bom-ref") if isinstance(meta.get("component"), dict) else None
    merger = _Merger()
    for n, doc in enumerate(docs):
        merger.add(doc, n, subject)
        extra = sorted(k for k in doc if k not in MERGED)
        if extra:
            notes.append(f"BOM {n + 1}: not merged: {', '.join(extra)}")
    present = _all_refs(merger.components) | ({subject} if subject else set())
    dependencies = [
        {"ref": ref, "dependsOn": sorted(t for t in targets if t in present and t != ref)}
        for ref, targets in sorted(merger.edges.items())
        if ref in present
    ]
    tools = meta.setdefault("tools", {})
    if isinstance(tools, dict):
        listed = tools.setdefault("components", [])
        for doc in docs[1:]:
            other = (doc.get("metadata") or {}).get("tools")
            if isinstance(other, dict):
                listed += [t for t in other.get("components", []) or [] if t not in listed]
        if not any(isinstance(t, dict) and t.get("name") == "aibom" for t in listed):
            listed.append({"type": "application", "group": "aibom", "name": "aibom", "version": __version__})
    meta["timestamp"] = build_timestamp().strftime("%Y-%m-%dT%H:%M:%SZ")
    merged = {
        "$schema": f"http://cyclonedx.org/schema/bom-{spec_version}.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": spec_version,
        "serialNumber": "",
        "version": 1,
        "metadata": meta,
        "components": merger.components,
        "dependencies": dependencies,
    }
    digest = hashlib.sha256(json.dumps(merged, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    merged["serialNumber"] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'aibom:merge:' + digest)}"
    if merger.dropped:
        notes.append(f"{merger.dropped} duplicate component(s) merged")
    return merged, notes
