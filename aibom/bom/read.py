"""Read a CycloneDX BOM (1.4-1.7, JSON or XML, from aibom or any other tool) back into an Inventory.

Bounded: the file size, the component count and the nesting depth are capped; XML entities and DTDs
are never resolved. Anything malformed raises BomReadError with one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lxml import etree

from ..inventory import (
    Artifact,
    Category,
    Evidence,
    Finding,
    Inventory,
    Kind,
    License,
    LicenseFile,
    ModelInfo,
    Provenance,
    Severity,
)

MAX_BOM_BYTES = 512 << 20
MAX_COMPONENTS = 1_000_000
MAX_DEPTH = 32
_KINDS = {
    "machine-learning-model": Kind.MODEL,
    "data": Kind.DATASET,
    "library": Kind.LIBRARY,
    "framework": Kind.LIBRARY,
}
_LISTS = {  # XML container element -> item element, for the parts aibom reads
    "components": "component",
    "licenses": None,  # license | expression
    "hashes": "hash",
    "properties": "property",
    "occurrences": "occurrence",
    "ancestors": "component",
    "datasets": None,  # dataset (with ref) | ref
    "dependencies": "dependency",
}


class BomReadError(ValueError):
    """Not a CycloneDX BOM aibom can read."""


def looks_like_bom(path: Path) -> bool:
    """A file (not a folder) whose start looks like CycloneDX JSON or XML."""
    if not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b"bomFormat" in head or b"cyclonedx.org/schema/bom" in head or path.name.endswith((".cdx.json", ".cdx.xml"))


def _elements(el: Any) -> list[Any]:
    """Child elements only: comments, processing instructions and unexpanded entities are skipped."""
    return [child for child in el if isinstance(child.tag, str)]


def _xml_to_dict(el: Any, depth: int = 0) -> Any:
    """CycloneDX XML -> the JSON shape, for the elements aibom reads."""
    if depth > MAX_DEPTH:
        raise BomReadError("BOM is nested too deeply")
    tag = etree.QName(el).localname
    children = _elements(el)
    if tag in _LISTS:
        items = []
        for child in children:
            name = etree.QName(child).localname
            if name == "expression":
                items.append({"expression": (child.text or "").strip(), **dict(child.attrib)})
            elif name == "license":
                items.append({"license": _xml_to_dict(child, depth + 1)})
            elif tag == "datasets":
                items.append({"ref": (child.text or "").strip()} if name == "ref" else _xml_to_dict(child, depth + 1))
            elif name == "property":
                items.append({"name": child.get("name", ""), "value": child.text or ""})
            elif name == "hash":
                items.append({"alg": child.get("alg", ""), "content": (child.text or "").strip()})
            elif tag == "dependencies" and name == "dependency":
                items.append({"ref": child.get("ref", ""), "dependsOn": [d.get("ref", "") for d in _elements(child)]})
            else:
                items.append(_xml_to_dict(child, depth + 1))
        return items
    if not children:
        return (el.text or "").strip() if not el.attrib else {**dict(el.attrib), "#text": (el.text or "").strip()}
    out: dict[str, Any] = dict(el.attrib)
    for child in children:
        name = etree.QName(child).localname
        out[name] = _xml_to_dict(child, depth + 1)
    return out


def _load(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_BOM_BYTES:
            raise BomReadError(f"{path}: BOM is larger than {MAX_BOM_BYTES >> 20} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise BomReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text_start = raw.lstrip()[:1]
    if text_start == b"{":
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BomReadError(f"{path}: not valid JSON: {str(exc)[:200]}") from None
        if not isinstance(doc, dict) or doc.get("bomFormat") != "CycloneDX":
            raise BomReadError(f"{path}: not a CycloneDX JSON BOM (no bomFormat: CycloneDX)")
        return doc
    if text_start == b"<":
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            root = etree.fromstring(raw, parser)
        except etree.XMLSyntaxError as exc:
            raise BomReadError(f"{path}: not valid XML: {' '.join(str(exc).split())[:200]}") from None
        if etree.QName(root).localname != "bom" or "cyclonedx.org/schema/bom" not in (
            etree.QName(root).namespace or ""
        ):
            raise BomReadError(f"{path}: not a CycloneDX XML BOM (root element is not a CycloneDX <bom>)")
        version = (etree.QName(root).namespace or "").rsplit("/", 1)[-1]
        doc = _xml_to_dict(root)
        doc["specVersion"] = version
        return doc
    raise BomReadError(f"{path}: not a CycloneDX BOM (neither JSON nor XML)")


def _str(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text")
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _licenses(entries: Any) -> list[License]:
    out = []
    for entry in _list(entries)[:1000]:
        if not isinstance(entry, dict):
            continue
        ack = entry.get("acknowledgement") or "declared"
        if expr := _str(entry.get("expression")):
            out.append(License(expression=expr, acknowledgement=ack))
        elif isinstance(lic := entry.get("license"), dict):
            ack = lic.get("acknowledgement") or ack
            lid, name, url = _str(lic.get("id")), _str(lic.get("name")), _str(lic.get("url"))
            out.append(License(expression=lid, name=None if lid else name, url=url, acknowledgement=ack))
    return out


def _finding(value: str, component: str | None) -> Finding | None:
    try:
        data = json.loads(value)
        return Finding(
            rule=str(data["rule"]),
            category=Category(data["category"]),
            severity=Severity(data["severity"]),
            message=str(data.get("message", "")),
            location=data.get("location"),
            component=component,
            remediation=data.get("remediation"),
            offset=data.get("offset"),
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _artifact(comp: dict[str, Any], inv: Inventory) -> Artifact:
    name = _str(comp.get("name")) or "unnamed"
    purl = _str(comp.get("purl"))
    version = _str(comp.get("version"))
    ref = _str(comp.get("bom-ref")) or purl or f"{name}@{version or ''}"
    artifact = Artifact(
        kind=_KINDS.get(_str(comp.get("type")) or "", Kind.FILE),
        name=name,
        ref=ref,
        version=version,
        purl=purl,
        description=_str(comp.get("description")),
        licenses=_licenses(comp.get("licenses")),
    )
    for h in _list(comp.get("hashes")):
        if isinstance(h, dict) and _str(h.get("alg")) == "SHA-256":
            artifact.sha256 = _str(h.get("content"))
    evidence = comp.get("evidence")
    for occ in _list(evidence.get("occurrences") if isinstance(evidence, dict) else None)[:10000]:
        if isinstance(occ, dict) and (loc := _str(occ.get("location"))):
            line = occ.get("line")
            artifact.evidence.append(Evidence(loc, line=int(line) if str(line).isdigit() else None))
    for p in _list(comp.get("properties")):
        if not isinstance(p, dict):
            continue
        key, value = _str(p.get("name")) or "", p.get("value") if isinstance(p.get("value"), str) else ""
        if key == "aibom:finding":
            if f := _finding(value, ref):
                inv.findings.append(f)
        elif key == "aibom:format":
            artifact.format = value
        elif key == "aibom:size" and value.isdigit():
            artifact.size = int(value)
        elif key.startswith("aibom:provenance:"):
            artifact.provenance.append(Provenance(key.removeprefix("aibom:provenance:"), uri=value or None))
        else:
            artifact.properties[key] = value
    if _str(comp.get("scope")) == "excluded":  # CycloneDX: not shipped (dev/test only)
        artifact.properties.setdefault("aibom:dependency:scope", "dev")
    if artifact.kind is Kind.MODEL:
        artifact.model = _model(comp.get("modelCard"))
        artifact.format = artifact.format or artifact.properties.get("cdx:ai-ml:model:format")
    if artifact.properties.get("aibom:external") == "true" and hasattr(artifact, "external"):
        artifact.external = True  # type: ignore[attr-defined]
    return artifact


def _model(card: Any) -> ModelInfo:
    info = ModelInfo()
    params = card.get("modelParameters") if isinstance(card, dict) else None
    if isinstance(params, dict):
        info.task = _str(params.get("task"))
        info.architecture_family = _str(params.get("architectureFamily"))
        info.architecture = _str(params.get("modelArchitecture"))
        refs = [d["ref"] for d in _list(params.get("datasets")) if isinstance(d, dict) and _str(d.get("ref"))]
        info.datasets = refs  # type: ignore[attr-defined]  # a ModelInfo field on the hf-dirs branch
    for p in _list(card.get("properties") if isinstance(card, dict) else None)[:10000]:
        if isinstance(p, dict) and (name := _str(p.get("name"))) and isinstance(p.get("value"), str):
            info.properties[name] = p["value"]
    return info


#: Inventories that nest a model directory's files as `Artifact.parts` (hf-dirs branch) get them back nested.
_NESTS = "parts" in Artifact.__dataclass_fields__


def _components(comps: Any, parent: str | None = None, depth: int = 0) -> list[tuple[dict[str, Any], str | None]]:
    """Every component with the bom-ref of the component it is nested in."""
    if depth > MAX_DEPTH:
        raise BomReadError("BOM components are nested too deeply")
    out = []
    for comp in _list(comps):
        if isinstance(comp, dict):
            out.append((comp, parent))
            out.extend(_components(comp.get("components"), _str(comp.get("bom-ref")) or "", depth + 1))
    return out


def read_bom(path: Path) -> Inventory:
    """The inventory a BOM describes: components, licenses, locations, hashes, findings, lineage."""
    doc = _load(path)
    spec = str(doc.get("specVersion", ""))
    if spec not in ("1.4", "1.5", "1.6", "1.7"):
        raise BomReadError(f"{path}: CycloneDX {spec or '(no specVersion)'} is not supported (1.4-1.7)")
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    root = meta.get("component") if isinstance(meta.get("component"), dict) else {}
    inv = Inventory(root_name=_str(root.get("name")) or path.stem)
    for lic in _licenses(root.get("licenses")):
        inv.license_files.append(LicenseFile(lic.source or "", "", lic))
    for p in _list(meta.get("properties")):
        if not isinstance(p, dict):
            continue
        key, value = _str(p.get("name")) or "", p.get("value") if isinstance(p.get("value"), str) else ""
        if key == "aibom:finding" and (f := _finding(value, None)):
            inv.findings.append(f)
        elif key == "aibom:notice-file":
            inv.license_files.append(
                LicenseFile(value, value.rsplit("/", 1)[0] if "/" in value else "", None, notice=True)
            )
    nested = _components(doc.get("components"))
    if len(nested) > MAX_COMPONENTS:
        raise BomReadError(f"{path}: more than {MAX_COMPONENTS} components")
    comps = [comp for comp, _ in nested]
    artifacts: dict[str, Artifact] = {}
    parents: dict[str, str] = {}
    for comp, parent in nested:
        a = _artifact(comp, inv)
        if a.ref not in artifacts:
            artifacts[a.ref] = a
            if parent:
                parents[a.ref] = parent
    by_purl = {a.purl: a.ref for a in artifacts.values() if a.purl}
    by_name = {a.name: a.ref for a in artifacts.values()}
    for comp in comps:
        ref = _str(comp.get("bom-ref"))
        pedigree = comp.get("pedigree")
        if not ref or ref not in artifacts or not isinstance(pedigree, dict):
            continue
        bases = []
        for anc in _list(pedigree.get("ancestors")):
            if isinstance(anc, dict):
                purl, name = _str(anc.get("purl")), _str(anc.get("name"))
                base = (by_purl.get(purl) if purl else None) or _str(anc.get("bom-ref")) or by_name.get(name or "")
                if base:
                    bases.append(base)
        artifacts[ref].ancestors = bases  # type: ignore[attr-defined]  # an Artifact field on the hf-dirs branch
    top = []
    for ref, a in artifacts.items():
        parent = artifacts.get(parents.get(ref, ""))
        if _NESTS and parent is not None:
            parent.parts.append(a)  # type: ignore[attr-defined]
        else:
            top.append(a)
    inv.artifacts = top
    return inv
