"""Inventory -> CycloneDX (1.6/1.7, JSON/XML) through cyclonedx-python-lib, validated before it leaves.

Deterministic: components are sorted by the library, bom-refs come from paths and purls, the
timestamp from SOURCE_DATE_EPOCH when set, and the serial number from the content itself.
"""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from typing import Any

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentScope, ComponentType, Pedigree
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import (
    DisjunctiveLicense,
    LicenseAcknowledgement,
    LicenseExpression,
)
from cyclonedx.output.json import JsonV1Dot6, JsonV1Dot7
from cyclonedx.output.xml import XmlV1Dot6, XmlV1Dot7
from cyclonedx.schema import SchemaVersion
from packageurl import PackageURL

from .. import __version__
from ..deps.model import CDX_SCOPE, SCOPE
from ..inventory import Artifact, Finding, Inventory, Kind, License
from ..textsafe import for_xml, map_strings
from . import ml_extensions
from .cdx_basics import (
    COMPONENT_TYPES,
    ROOT_REF,
    SPEC_VERSION_NAMES,
    STAT_BYTES,
    STAT_FILES,
    ZERO_SERIAL,
    InvalidBom,
    build_timestamp,
    serial_of,
)
from .relations import dependency_refs, split_findings, top_level_refs
from .validate import xml_errors

SPEC_VERSIONS = {"1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}
assert tuple(SPEC_VERSIONS) == SPEC_VERSION_NAMES
_JSON = {"1.6": JsonV1Dot6, "1.7": JsonV1Dot7}
_XML = {"1.6": XmlV1Dot6, "1.7": XmlV1Dot7}
_TYPES = {kind: ComponentType(value) for kind, value in COMPONENT_TYPES.items()}
_HASH_ALGS = {"MD5": HashAlgorithm.MD5, "SHA-1": HashAlgorithm.SHA_1, "SHA-512": HashAlgorithm.SHA_512}


def _licenses(licenses: list[License]) -> list[Any]:
    """CycloneDX licenses: one SPDX expression, or a list of ids/names (never both, per the schema).

    Several licenses with the same acknowledgement (license files in one folder) all apply: their
    conjunction. Licenses with different acknowledgements (a card's declared license and a folder's
    concluded one) are listed side by side, each with its own acknowledgement, not merged.
    """
    if not licenses:
        return []
    # the same license stated twice with the same acknowledgement is one entry
    licenses = list({(lic.label, lic.acknowledgement): lic for lic in reversed(licenses)}.values())[::-1]
    ack = {
        "declared": LicenseAcknowledgement.DECLARED,
        "concluded": LicenseAcknowledgement.CONCLUDED,
    }
    exprs = [lic.expression for lic in licenses if lic.expression]
    same_ack = len({lic.acknowledgement for lic in licenses}) == 1
    if same_ack and len(exprs) == len(licenses) and (len(exprs) > 1 or any(" " in e for e in exprs)):
        # Several license files in one folder all apply: their conjunction.
        unique = list(dict.fromkeys(exprs))
        value = unique[0] if len(unique) == 1 else " AND ".join(f"({e})" if " " in e else e for e in unique)
        return [LicenseExpression(value, acknowledgement=ack[licenses[0].acknowledgement])]
    out: list[Any] = []
    for lic in licenses:
        if lic.expression and " " not in lic.expression:
            out.append(DisjunctiveLicense(id=lic.expression, acknowledgement=ack[lic.acknowledgement]))
        else:
            out.append(
                DisjunctiveLicense(
                    name=lic.label,
                    url=XsUri(lic.url) if lic.url else None,
                    acknowledgement=ack[lic.acknowledgement],
                )
            )
    return out


def _finding_value(f: Finding) -> str:
    data = {
        "rule": f.rule,
        "category": str(f.category),
        "severity": str(f.severity),
        "message": f.message,
        "location": f.location,
        "remediation": f.remediation,
        "offset": f.offset,
    }
    return json.dumps({k: v for k, v in data.items() if v is not None}, sort_keys=True, ensure_ascii=False)


def _ancestor(artifact: Artifact) -> Component:
    """A base model as a pedigree ancestor: a copy naming it (no bom-ref: refs must be unique)."""
    return Component(
        type=_TYPES[artifact.kind],
        name=artifact.name,
        purl=PackageURL.from_string(artifact.purl) if artifact.purl else None,
    )


def _part_facts(artifact: Artifact) -> dict[str, str]:
    """A weight file nested in a model directory is a `file`: its own header facts become properties."""
    info = artifact.model
    if artifact.kind != Kind.MODEL or info is None:
        return {}
    facts = {}
    if info.parameter_count is not None:
        facts["aibom:model:parameter:count"] = str(info.parameter_count)
    if info.tensor_count is not None:
        facts["aibom:model:tensor:count"] = str(info.tensor_count)
    if info.dtypes:
        facts["aibom:model:dtypes"] = ",".join(f"{d}={info.dtypes[d]}" for d in sorted(info.dtypes))
    return facts


def _component(
    artifact: Artifact, findings: dict[str, list[Finding]], by_ref: dict[str, Artifact], nested: bool = False
) -> Component:
    """The component of an artifact; a model directory's parts are nested in it as `file` components."""
    props = dict(artifact.properties) | (_part_facts(artifact) if nested else {})
    if artifact.format:
        props.setdefault("aibom:format", artifact.format)
    if artifact.size is not None:
        props.setdefault("aibom:size", str(artifact.size))
    if artifact.external:
        props.setdefault("aibom:external", "true")
    for prov in artifact.provenance:
        props.setdefault(f"aibom:provenance:{prov.kind}", prov.uri or prov.detail or "")
    properties = [Property(name=k, value=v) for k, v in props.items()]
    properties += [Property(name="aibom:finding", value=_finding_value(f)) for f in findings.get(artifact.ref, [])]
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256)] if artifact.sha256 else []
    hashes += [
        HashType(alg=_HASH_ALGS[alg], content=v) for alg, v in sorted(artifact.hashes.items()) if alg in _HASH_ALGS
    ]
    occurrences = [
        Occurrence(location=ev.location, line=ev.line, offset=ev.offset, symbol=ev.symbol) for ev in artifact.evidence
    ]
    ancestors = [_ancestor(by_ref[ref]) for ref in artifact.ancestors if ref in by_ref]
    scope = CDX_SCOPE.get(artifact.properties.get(SCOPE, ""))
    return Component(
        type=ComponentType.FILE if nested else _TYPES[artifact.kind],
        name=artifact.name,
        version=artifact.version,
        scope=ComponentScope(scope) if scope else None,
        bom_ref=artifact.ref,
        purl=PackageURL.from_string(artifact.purl) if artifact.purl else None,
        description=artifact.description,
        hashes=hashes,
        licenses=_licenses(artifact.licenses),
        evidence=ComponentEvidence(occurrences=occurrences) if occurrences else None,
        properties=properties,
        external_references=[
            ExternalReference(type=ExternalReferenceType(ref.type), url=XsUri(ref.url), comment=ref.comment)
            for ref in artifact.external_refs
        ],
        pedigree=Pedigree(ancestors=ancestors) if ancestors else None,
        components=[_component(part, findings, by_ref, nested=True) for part in artifact.parts],
    )


def metadata_bom(
    inv: Inventory, loose: list[Finding], timestamp: datetime | None = None, stats: tuple[int, int] | None = None
) -> tuple[Bom, Component]:
    """A Bom holding only the metadata: the tool, the scanned root and the BOM-level properties."""
    bom = Bom(serial_number=ZERO_SERIAL)
    bom.metadata.timestamp = timestamp or build_timestamp()
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="aibom", version=__version__, group="aibom")
    )
    root = Component(
        type=ComponentType.APPLICATION,
        name=inv.root_name,
        bom_ref=ROOT_REF,
        licenses=_licenses(inv.root_licenses()),
    )
    bom.metadata.component = root
    meta_props = [Property(name="aibom:finding", value=_finding_value(f)) for f in loose]
    meta_props += [
        Property(name="aibom:skipped", value=f"{s.reason}: {s.path}" + (f" ({s.detail})" if s.detail else ""))
        for s in inv.skipped
    ]
    meta_props += [Property(name="aibom:environment", value=env) for env in inv.environments]
    meta_props += [Property(name="aibom:notice-file", value=lf.path) for lf in inv.license_files if lf.notice]
    files, size = (inv.stats.files, inv.stats.bytes) if stats is None else stats
    meta_props += [Property(name=STAT_FILES, value=str(files)), Property(name=STAT_BYTES, value=str(size))]
    bom.metadata.properties.update(meta_props)
    return bom, root


def components_bom(artifacts: list[Artifact], findings: dict[str, list[Finding]], by_ref: dict[str, Artifact]) -> Bom:
    """A Bom of just these artifacts' components (no metadata, no dependencies between them)."""
    bom = Bom(serial_number=ZERO_SERIAL)
    _add_sorted(bom, [_component(a, findings, by_ref) for a in artifacts])
    _index_dependencies(bom)  # the library registers every component on output
    return bom


def build_bom(inv: Inventory, timestamp: datetime | None = None) -> Bom:
    """The library's model of the whole BOM (without modelCard/data, which it cannot hold yet)."""
    by_component, loose = split_findings(inv)
    bom, root = metadata_bom(inv, loose, timestamp)
    by_ref = {a.ref: a for a in inv.artifacts}
    components = {a.ref: _component(a, by_component, by_ref) for a in inv.artifacts}
    _add_sorted(bom, list(components.values()))
    _index_dependencies(bom)
    bom.register_dependency(root, [components[ref] for ref in top_level_refs(inv)])
    for ref, deps in dependency_refs(inv).items():
        bom.register_dependency(components[ref], [components[r] for r in deps])
    return bom


def _add_sorted(bom: Bom, components: list[Component]) -> None:
    """Add components in the library's own order, computing each one's sort key once.

    The library's components are a sorted set whose comparison rebuilds a long key tuple on every call;
    adding 10,000 components one by one took seconds. Sorted by the same key first, the bulk add is one
    linear pass: same order, same output.
    """
    keyed = sorted(components, key=lambda c: c._Component__comparable_tuple())  # type: ignore[attr-defined]
    target = bom.components
    inner_set, inner_list = getattr(target, "_set", None), getattr(target, "_list", None)
    if len(target) or not isinstance(inner_set, set) or not hasattr(inner_list, "update"):
        target.update(keyed)  # another sortedcontainers layout: the slow, always-correct path
        return
    # SortedSet.update would pass the values through a set (losing the order) and sort them again;
    # fed straight to its sorted list, already-sorted input costs one comparison per component.
    inner_set.update(keyed)
    if len(inner_set) != len(keyed):  # equal components (never made by aibom): let the library dedupe them
        inner_set.clear()
        target.update(keyed)
        return
    inner_list.update(keyed)


def _index_dependencies(bom: Bom) -> None:
    """Give this Bom a dependency registration that is O(1) per call.

    The library's `register_dependency` scans every registered dependency on each call and its output
    step calls it once per component: quadratic, minutes for a large tree. Same semantics, indexed.
    """
    index: dict[str, Dependency] = {str(d.ref): d for d in bom.dependencies}

    def register(target: Any, depends_on: Any = None) -> None:
        depends_on = list(depends_on or [])
        existing = index.get(str(target.bom_ref))
        if existing is None:
            existing = Dependency(ref=target.bom_ref, dependencies=[Dependency(ref=d.bom_ref) for d in depends_on])
            bom.dependencies.add(existing)
            index[str(target.bom_ref)] = existing
        elif depends_on:
            existing.dependencies.update(Dependency(ref=d.bom_ref) for d in depends_on)
        for dep in depends_on:
            register(dep)

    bom.register_dependency = register  # type: ignore[method-assign]


def library_json(bom: Bom, spec_version: str) -> dict[str, Any]:
    """The library's JSON of a Bom, parsed."""
    with warnings.catch_warnings():
        # The library warns about an empty dependency graph for an empty tree; that is a fact, not a problem.
        warnings.simplefilter("ignore", UserWarning)
        return json.loads(_JSON[spec_version](bom).output_as_string())  # type: ignore[no-any-return]


def render_xml(inv: Inventory, spec_version: str = "1.6", timestamp: datetime | None = None) -> str:
    """The library's whole CycloneDX XML document, validated against the XSD. Raises InvalidBom if the
    schema rejects aibom's own output. (JSON is assembled from fragments: `aibom.bom.assemble`.)"""
    schema = SPEC_VERSIONS[spec_version]
    inv = map_strings(inv, for_xml)  # XML 1.0 cannot carry control characters that file names may hold
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        lib_xml = _XML[spec_version](build_bom(inv, timestamp)).output_as_string()
    text = ml_extensions.add_to_xml(lib_xml, ml_extensions.collect(inv.artifacts))
    placeholder = f'serialNumber="{ZERO_SERIAL.urn}"'
    text = text.replace(placeholder, f'serialNumber="{serial_of(text)}"', 1)
    error = xml_errors(text, schema)
    if error is not None:
        raise InvalidBom(f"aibom produced an invalid CycloneDX {spec_version} cyclonedx-xml document: {error}")
    return text
