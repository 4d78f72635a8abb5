"""Inventory -> SPDX 2.3 JSON, built with spdx-tools' model and writer and validated by spdx-tools first.

Mapping:
- the scanned project is the described package (`DESCRIBES`); it `CONTAINS` every model, dataset and file
  and `DEPENDS_ON` every library;
- models and datasets are packages (purpose OTHER: SPDX 2.3 has no model/data purpose; the kind is stated
  in the package comment and an `aibom:kind` annotation); libraries are packages with a purl;
- opaque files are packages of purpose FILE, because an SPDX 2.3 `File` must carry a SHA-1 and aibom hashes
  with SHA-256 only (writers never reopen model files);
- a model `DEPENDS_ON` its datasets and is `DESCENDANT_OF` its base models; nested parts are `CONTAINS`;
- declared / concluded licenses go to licenseDeclared / licenseConcluded as SPDX expressions; a license known
  only by name becomes a `LicenseRef-` with an extracted licensing info holding its name and URL;
- findings become `OTHER` annotations whose comment is the finding JSON (as in the CycloneDX property).
Deterministic: timestamp from SOURCE_DATE_EPOCH, namespace derived from the document's own content.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import datetime
from typing import Any

from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    Annotation,
    AnnotationType,
    Checksum,
    ChecksumAlgorithm,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    ExtractedLicensingInfo,
    Package,
    PackagePurpose,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from .. import __version__
from ..inventory import Artifact, Finding, Inventory, Kind, License
from ..textsafe import for_json_text
from .cdx_basics import InvalidBom, build_timestamp
from .cyclonedx import _finding_value
from .relations import all_artifacts, ancestors_of, depends_on, is_external, license_ref_id, parts_of, safe_id

ROOT_ID = "SPDXRef-Package-root"
_PLACEHOLDER_NS = "https://spdx.org/spdxdocs/aibom/placeholder"
_PURPOSE = {
    Kind.MODEL: PackagePurpose.OTHER,
    Kind.DATASET: PackagePurpose.OTHER,
    Kind.LIBRARY: PackagePurpose.LIBRARY,
    Kind.FILE: PackagePurpose.FILE,
}
_KIND_NOTE = {
    Kind.MODEL: "machine-learning-model",
    Kind.DATASET: "dataset",
    Kind.LIBRARY: "library",
    Kind.FILE: "file",
}
_ALGORITHMS = {
    "sha1": ChecksumAlgorithm.SHA1,
    "sha224": ChecksumAlgorithm.SHA224,
    "sha384": ChecksumAlgorithm.SHA384,
    "sha512": ChecksumAlgorithm.SHA512,
    "md5": ChecksumAlgorithm.MD5,
    "sha3-256": ChecksumAlgorithm.SHA3_256,
    "blake2b-256": ChecksumAlgorithm.BLAKE2B_256,
}
_TOOL = Actor(ActorType.TOOL, f"aibom-{__version__}")


def _is_spdx_expression(text: str) -> bool:
    """True when every symbol is on the SPDX license list or a LicenseRef-."""
    try:
        info = spdx_licensing.validate(text)
    except Exception:  # the library raises on some malformed input instead of reporting it
        return False
    if info.errors and not info.invalid_symbols:
        return False
    return all(str(s).startswith("LicenseRef-") for s in info.invalid_symbols)


class _Licenses:
    """Turns aibom License records into SPDX expressions, collecting LicenseRef- definitions."""

    def __init__(self) -> None:
        self.extracted: dict[str, ExtractedLicensingInfo] = {}

    def _term(self, lic: License) -> str:
        if lic.expression and _is_spdx_expression(lic.expression):
            for symbol in spdx_licensing.license_symbols(spdx_licensing.parse(lic.expression)):
                key = str(symbol.key)
                if key.startswith("LicenseRef-"):
                    self._define(key, key, None)
            expr = str(spdx_licensing.parse(lic.expression))
            return f"({expr})" if " " in expr else expr
        ref = license_ref_id(lic)
        self._define(ref, lic.name or lic.expression or lic.url or "unknown", lic.url)
        return ref

    def _define(self, ref: str, name: str, url: str | None) -> None:
        if ref in self.extracted:
            return
        text = f"License named {name!r} in the scanned project; aibom does not reproduce license texts."
        if url:
            text += f" See {url}."
        self.extracted[ref] = ExtractedLicensingInfo(
            license_id=ref, extracted_text=text, license_name=name, cross_references=[url] if url else []
        )

    def expression(self, licenses: list[License]) -> Any:
        if not licenses:
            return SpdxNoAssertion()
        terms = list(dict.fromkeys(self._term(lic) for lic in licenses))
        text = " AND ".join(terms)
        if len(terms) == 1 and text.startswith("("):
            text = text[1:-1]
        return spdx_licensing.parse(text)


def _checksums(artifact: Artifact) -> list[Checksum]:
    out = [Checksum(ChecksumAlgorithm.SHA256, artifact.sha256.lower())] if artifact.sha256 else []
    for alg, value in sorted(artifact.hashes.items()):
        algorithm = _ALGORITHMS.get(alg.lower().replace("_", "-"))
        if algorithm is not None and value:
            out.append(Checksum(algorithm, value.lower()))
    return out


def _comment(artifact: Artifact) -> str:
    facts = {"aibom:kind": _KIND_NOTE[artifact.kind]}
    if artifact.format:
        facts["aibom:format"] = artifact.format
    if artifact.location:
        facts["aibom:location"] = artifact.location
    if artifact.size is not None:
        facts["aibom:size"] = str(artifact.size)
    info = artifact.model
    if info is not None:
        for key, value in (
            ("task", info.task),
            ("architectureFamily", info.architecture_family),
            ("modelArchitecture", info.architecture),
            ("parameterCount", info.parameter_count),
            ("dtype", info.primary_dtype),
        ):
            if value is not None:
                facts[f"aibom:model:{key}"] = str(value)
    facts.update({k: v for k, v in sorted(artifact.properties.items())})
    for prov in artifact.provenance:
        facts.setdefault(f"aibom:provenance:{prov.kind}", prov.uri or prov.detail or "")
    return json.dumps(facts, sort_keys=True, ensure_ascii=False)


def _package(artifact: Artifact, spdx_id: str, licenses: _Licenses) -> Package:
    declared = [lic for lic in artifact.licenses if lic.acknowledgement != "concluded"]
    concluded = [lic for lic in artifact.licenses if lic.acknowledgement == "concluded"]
    refs = []
    if artifact.purl:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", artifact.purl))
    download = SpdxNoAssertion()
    for prov in artifact.provenance:
        if prov.uri and prov.uri.startswith(("http://", "https://")):
            download = prov.uri
            break
    return Package(
        spdx_id=spdx_id,
        name=artifact.name or artifact.ref,
        download_location=download,
        version=artifact.version,
        file_name=artifact.location if artifact.kind is not Kind.LIBRARY else None,
        files_analyzed=False,
        checksums=_checksums(artifact),
        license_concluded=licenses.expression(concluded or declared) if concluded or declared else SpdxNoAssertion(),
        license_declared=licenses.expression(declared),
        copyright_text=SpdxNoAssertion(),
        description=artifact.description,
        comment=_comment(artifact),
        external_references=refs,
        primary_package_purpose=_PURPOSE[artifact.kind],
    )


def build_document(inv: Inventory, namespace: str = _PLACEHOLDER_NS, created: datetime | None = None) -> Document:
    created = created or build_timestamp()
    licenses = _Licenses()
    artifacts = list(all_artifacts(inv))
    ids: dict[str, str] = {}
    for artifact in artifacts:
        ids.setdefault(artifact.ref, safe_id("SPDXRef-", artifact.ref))
    packages = [
        Package(
            spdx_id=ROOT_ID,
            name=inv.root_name or "project",
            download_location=SpdxNoAssertion(),
            files_analyzed=False,
            license_declared=licenses.expression(inv.root_licenses()),
            license_concluded=SpdxNoAssertion(),
            copyright_text=SpdxNoAssertion(),
            primary_package_purpose=PackagePurpose.SOURCE,
            comment="The scanned project.",
        )
    ]
    seen: set[str] = set()
    for artifact in artifacts:
        if artifact.ref in seen:
            continue
        seen.add(artifact.ref)
        packages.append(_package(artifact, ids[artifact.ref], licenses))
    rels: list[Relationship] = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, ROOT_ID)]
    nested = {part.ref for a in artifacts for part in parts_of(a)}
    for artifact in inv.artifacts:
        if artifact.ref in nested:
            continue
        kind = RelationshipType.DEPENDS_ON if artifact.kind is Kind.LIBRARY or is_external(artifact) else None
        rels.append(Relationship(ROOT_ID, kind or RelationshipType.CONTAINS, ids[artifact.ref]))
    for artifact in artifacts:
        me = ids[artifact.ref]
        rels += [Relationship(me, RelationshipType.CONTAINS, ids[p.ref]) for p in parts_of(artifact)]
        bases = [r for r in ancestors_of(artifact) if r in ids]
        rels += [Relationship(me, RelationshipType.DESCENDANT_OF, ids[r]) for r in bases]
        rels += [
            Relationship(me, RelationshipType.DEPENDS_ON, ids[r])
            for r in depends_on(artifact)
            if r in ids and r not in bases
        ]
    rels = list({(r.spdx_element_id, r.relationship_type.name, r.related_spdx_element_id): r for r in rels}.values())
    annotations = [_annotation(f, ids.get(f.component or "", ROOT_ID), created) for f in inv.findings]
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=f"aibom-{inv.root_name or 'project'}",
        document_namespace=namespace,
        creators=[_TOOL],
        created=created,
        creator_comment="Written by aibom from headers and metadata; model files were not loaded.",
    )
    return Document(
        creation_info=info,
        packages=packages,
        relationships=rels,
        annotations=annotations,
        extracted_licensing_info=[licenses.extracted[k] for k in sorted(licenses.extracted)],
    )


def _annotation(finding: Finding, spdx_id: str, created: Any) -> Annotation:
    return Annotation(spdx_id, AnnotationType.OTHER, _TOOL, created, "aibom:finding " + _finding_value(finding))


def _to_text(document: Document) -> str:
    stream = io.StringIO()
    write_document_to_stream(document, stream, validate=False, drop_duplicates=False)
    return stream.getvalue()


def render(inv: Inventory, timestamp: datetime | None = None) -> str:
    """SPDX 2.3 JSON text, validated by spdx-tools. Raises InvalidBom if spdx-tools rejects it."""
    timestamp = timestamp or build_timestamp()
    draft = build_document(inv, created=timestamp)
    canonical = json.dumps(DocumentConverter().convert(draft), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    name = safe_id("", inv.root_name or "project", limit=40)
    namespace = f"https://spdx.org/spdxdocs/aibom/{name}-{uuid.uuid5(uuid.NAMESPACE_URL, 'aibom:' + digest)}"
    document = build_document(inv, namespace, timestamp)
    messages = validate_full_spdx_document(document)
    if messages:
        details = "; ".join(m.validation_message for m in messages[:5])
        raise InvalidBom(f"aibom produced an invalid SPDX 2.3 document: {details}")
    text = _to_text(document)
    doc = json.loads(text)
    return for_json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
