"""Inventory -> SPDX 3.0.1 JSON-LD with the AI and Dataset profiles, built with spdx-python-model.

Mapping: the project is a `software_Package` (the document's root element) that `contains` its models,
datasets and files and `dependsOn` its libraries. Models are `ai_AIPackage` (typeOfModel from the architecture,
metrics, informationAboutTraining naming the datasets), datasets `dataset_DatasetPackage` (datasetType from
the format), libraries `software_Package` with a purl, opaque files `software_File`; SHA-256 in verifiedUsing.
Lineage: a model is `trainedOn` its datasets, a base model is `ancestorOf` the model derived from it, other
links are `dependsOn`. Every package gets exactly one `hasDeclaredLicense` and one `hasConcludedLicense`
(NoAssertionLicense when unknown); names that are not SPDX ids become `LicenseRef-` ids mapped to a
`simplelicensing_SimpleLicensingText` element. Findings are `Annotation`s whose statement is the finding JSON.

Validation (`validate_json`) runs before anything is written; see its docstring for exactly what is checked.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from spdx_python_model import v3_0_1 as spdx

from .. import __version__
from ..inventory import Artifact, Inventory, Kind, License
from ..textsafe import for_json_text
from .cdx_basics import InvalidBom, build_timestamp
from .cyclonedx import _finding_value
from .relations import all_artifacts, ancestors_of, depends_on, is_external, license_ref_id, parts_of, safe_id
from .spdx2 import _is_spdx_expression

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
NO_ASSERTION = "https://spdx.org/rdf/3.0.1/terms/ExpandedLicensing/NoAssertionLicense"
_PLACEHOLDER = "https://spdx.org/spdxdocs/aibom/placeholder"
_DATASET_TYPES = {
    "parquet": "structured",
    "arrow": "structured",
    "csv": "structured",
    "tsv": "structured",
    "jsonl": "text",
    "text": "text",
    "tfrecord": "other",
    "webdataset": "other",
    "image": "image",
    "images": "image",
    "audio": "audio",
    "video": "video",
}
MAX_NODES = 500_000


class _Builder:
    def __init__(self, inv: Inventory, namespace: str, created: datetime) -> None:
        self.inv = inv
        self.ns = namespace
        self.ci = spdx.CreationInfo(specVersion="3.0.1", created=created)
        self.agent = spdx.SoftwareAgent(_id=f"{namespace}#agent-aibom", name="aibom", creationInfo=self.ci)
        self.tool = spdx.Tool(
            _id=f"{namespace}#tool-aibom-{__version__}", name=f"aibom {__version__}", creationInfo=self.ci
        )
        self.ci.createdBy.append(self.agent)
        self.ci.createdUsing.append(self.tool)
        self.elements: list[Any] = [self.agent, self.tool]
        self.licenses: dict[str, Any] = {}
        self.texts: dict[str, Any] = {}
        self.count = 0

    def id(self, kind: str, ref: str) -> str:
        return f"{self.ns}#{safe_id(kind + '-', ref)}"

    def relate(self, source: Any, rel: str, targets: list[Any]) -> None:
        if not targets:
            return
        self.count += 1
        rid = f"{self.ns}#rel-{self.count}"
        kind = spdx.RelationshipType.NAMED_INDIVIDUALS[rel]
        self.elements.append(
            spdx.Relationship(_id=rid, creationInfo=self.ci, from_=source, relationshipType=kind, to=targets)
        )

    def _expression(self, licenses: list[License]) -> Any:
        if not licenses:
            return NO_ASSERTION
        terms: list[str] = []
        custom: dict[str, str] = {}
        for lic in licenses:
            if lic.expression and _is_spdx_expression(lic.expression):
                terms.append(f"({lic.expression})" if " " in lic.expression else lic.expression)
                continue
            ref = license_ref_id(lic)
            custom[ref] = self._text(ref, lic)
            terms.append(ref)
        terms = list(dict.fromkeys(terms))
        text = " AND ".join(terms)
        if len(terms) == 1 and text.startswith("("):
            text = text[1:-1]
        if text not in self.licenses:
            element = spdx.simplelicensing_LicenseExpression(
                _id=self.id("license", text), creationInfo=self.ci, simplelicensing_licenseExpression=text
            )
            for key in sorted(custom):
                element.simplelicensing_customIdToUri.append(spdx.DictionaryEntry(key=key, value=custom[key]))
            self.licenses[text] = element
            self.elements.append(element)
        return self.licenses[text]

    def _text(self, ref: str, lic: License) -> str:
        if ref not in self.texts:
            name = lic.name or lic.expression or lic.url or "unknown"
            body = f"License named {name!r} in the scanned project; aibom does not reproduce license texts."
            if lic.url:
                body += f" See {lic.url}."
            element = spdx.simplelicensing_SimpleLicensingText(
                _id=self.id("licensetext", ref), creationInfo=self.ci, simplelicensing_licenseText=body, name=name
            )
            self.texts[ref] = element
            self.elements.append(element)
        return self.texts[ref]._id

    def licensed(self, element: Any, licenses: list[License]) -> None:
        declared = [lic for lic in licenses if lic.acknowledgement != "concluded"]
        concluded = [lic for lic in licenses if lic.acknowledgement == "concluded"] or declared
        self.relate(element, "hasDeclaredLicense", [self._expression(declared)])
        self.relate(element, "hasConcludedLicense", [self._expression(concluded)])

    def element(self, artifact: Artifact) -> Any:
        common: dict[str, Any] = {"_id": self.id(str(artifact.kind), artifact.ref), "creationInfo": self.ci}
        common["name"] = artifact.name or artifact.ref
        if artifact.description:
            common["description"] = artifact.description
        facts = {"aibom:ref": artifact.ref}
        if artifact.format:
            facts["aibom:format"] = artifact.format
        if artifact.location:
            facts["aibom:location"] = artifact.location
        facts.update(artifact.properties)
        common["comment"] = json.dumps(facts, sort_keys=True, ensure_ascii=False)
        if artifact.kind is Kind.FILE:
            obj = spdx.software_File(**common)
        else:
            if artifact.version:
                common["software_packageVersion"] = artifact.version
            if artifact.purl:
                common["software_packageUrl"] = artifact.purl
            for prov in artifact.provenance:
                if prov.uri and prov.uri.startswith(("http://", "https://")):
                    common["software_downloadLocation"] = prov.uri
                    break
            if artifact.kind is Kind.MODEL:
                obj = self._model(artifact, common)
            elif artifact.kind is Kind.DATASET:
                kind = _DATASET_TYPES.get((artifact.format or "").lower(), "noAssertion")
                obj = spdx.dataset_DatasetPackage(
                    **common,
                    software_primaryPurpose=spdx.software_SoftwarePurpose.data,
                    dataset_datasetType=[spdx.dataset_DatasetType.NAMED_INDIVIDUALS[kind]],
                )
                if artifact.properties.get("aibom:dataset:intended-use"):
                    obj.dataset_intendedUse = artifact.properties["aibom:dataset:intended-use"]
                if artifact.size is not None:
                    obj.dataset_datasetSize = artifact.size
            else:
                obj = spdx.software_Package(**common, software_primaryPurpose=spdx.software_SoftwarePurpose.library)
        if artifact.sha256:
            obj.verifiedUsing.append(spdx.Hash(algorithm=spdx.HashAlgorithm.sha256, hashValue=artifact.sha256.lower()))
        return obj

    def _model(self, artifact: Artifact, common: dict[str, Any]) -> Any:
        obj = spdx.ai_AIPackage(**common, software_primaryPurpose=spdx.software_SoftwarePurpose.model)
        info = artifact.model
        if info is None:
            return obj
        for value in (info.architecture_family, info.architecture):
            if value and value not in obj.ai_typeOfModel:
                obj.ai_typeOfModel.append(value)
        if info.task:
            obj.ai_informationAboutApplication = f"task: {info.task}"
        facts = {
            "parameterCount": info.parameter_count,
            "tensorCount": info.tensor_count,
            "dtype": info.primary_dtype,
        }
        for key, value in facts.items():
            if value is not None:
                obj.ai_hyperparameter.append(spdx.DictionaryEntry(key=key, value=str(value)))
        for metric in getattr(info, "metrics", None) or []:
            label = metric.type if not getattr(metric, "slice", None) else f"{metric.type} ({metric.slice})"
            obj.ai_metric.append(spdx.DictionaryEntry(key=label, value=str(metric.value)))
        for key in ("limitation", "domain"):
            value = artifact.properties.get(f"aibom:model:{key}")
            if value and key == "limitation":
                obj.ai_limitation = value
            elif value:
                obj.ai_domain.append(value)
        return obj

    def build(self) -> Any:
        root = spdx.software_Package(
            _id=self.id("project", self.inv.root_name or "project"),
            creationInfo=self.ci,
            name=self.inv.root_name or "project",
            software_primaryPurpose=spdx.software_SoftwarePurpose.source,
            comment="The scanned project.",
        )
        self.elements.append(root)
        self.licensed(root, self.inv.root_licenses())
        artifacts = list(all_artifacts(self.inv))
        by_ref: dict[str, Any] = {}
        kinds: dict[str, Kind] = {}
        for artifact in artifacts:
            if artifact.ref not in by_ref:
                by_ref[artifact.ref] = self.element(artifact)
                kinds[artifact.ref] = artifact.kind
                self.elements.append(by_ref[artifact.ref])
                if artifact.kind is not Kind.LIBRARY or artifact.licenses:
                    self.licensed(by_ref[artifact.ref], artifact.licenses)
        nested = {p.ref for a in artifacts for p in parts_of(a)}
        tops = [a for a in self.inv.artifacts if a.ref not in nested]
        self.relate(
            root, "contains", [by_ref[a.ref] for a in tops if a.kind is not Kind.LIBRARY and not is_external(a)]
        )
        self.relate(root, "dependsOn", [by_ref[a.ref] for a in tops if a.kind is Kind.LIBRARY or is_external(a)])
        trained: dict[str, list[str]] = {}
        for artifact in artifacts:
            me = by_ref[artifact.ref]
            self.relate(me, "contains", [by_ref[p.ref] for p in parts_of(artifact)])
            bases = [r for r in ancestors_of(artifact) if r in by_ref]
            for base in bases:
                self.relate(by_ref[base], "ancestorOf", [me])
            deps = [r for r in depends_on(artifact) if r in by_ref and r not in bases]
            data = [r for r in deps if kinds[r] is Kind.DATASET]
            if artifact.kind is Kind.MODEL:
                self.relate(me, "trainedOn", [by_ref[r] for r in data])
                trained[artifact.ref] = data
            else:
                data = []
            self.relate(me, "dependsOn", [by_ref[r] for r in deps if r not in data])
        for ref, data in trained.items():
            if data:
                names = ", ".join(sorted(by_ref[r].name for r in data))
                by_ref[ref].ai_informationAboutTraining = f"Trained or evaluated on: {names}"
        for n, finding in enumerate(self.inv.findings):
            subject = by_ref.get(finding.component or "", root)
            self.elements.append(
                spdx.Annotation(
                    _id=f"{self.ns}#finding-{n + 1}",
                    creationInfo=self.ci,
                    annotationType=spdx.AnnotationType.review,
                    subject=subject,
                    statement=_finding_value(finding),
                )
            )
        profiles = ["core", "software", "simpleLicensing", "ai", "dataset"]
        document = spdx.SpdxDocument(
            _id=f"{self.ns}#document",
            creationInfo=self.ci,
            name=f"aibom-{self.inv.root_name or 'project'}",
            rootElement=[root],
            element=list(self.elements),
            profileConformance=[spdx.ProfileIdentifierType.NAMED_INDIVIDUALS[p] for p in profiles],
            dataLicense=self._expression([License(expression="CC0-1.0")]),
        )
        return spdx.SHACLObjectSet([document, *self.elements])


def _serialize(inv: Inventory, namespace: str, created: datetime) -> dict[str, Any]:
    data = spdx.JSONLDSerializer().serialize_data(_Builder(inv, namespace, created).build())
    graph = data.get("@graph", [])
    graph.sort(key=lambda node: (node.get("type", ""), node.get("spdxId", node.get("@id", ""))))
    return data


def render(inv: Inventory, timestamp: datetime | None = None) -> str:
    """SPDX 3.0.1 JSON-LD text, validated first. Raises InvalidBom if aibom's output fails its checks."""
    timestamp = timestamp or build_timestamp()
    draft = json.dumps(_serialize(inv, _PLACEHOLDER, timestamp), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(draft.encode("utf-8", "surrogateescape")).hexdigest()
    name = safe_id("", inv.root_name or "project", limit=40)
    namespace = f"https://spdx.org/spdxdocs/aibom/{name}-{uuid.uuid5(uuid.NAMESPACE_URL, 'aibom:' + digest)}"
    data = _serialize(inv, namespace, timestamp)
    errors = validate_json(data, 5)
    if errors:
        details = "; ".join(f"{w}: {m}" for w, m in errors)
        raise InvalidBom(f"aibom produced an invalid SPDX 3.0.1 document: {details}")
    return for_json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _key(obj: Any) -> str:
    return str(getattr(obj, "_id", None) or type(obj).__name__)


def validate_json(data: Any, limit: int = 50) -> list[tuple[str, str]]:
    """Check a parsed SPDX 3.0.1 JSON-LD document. Returns up to `limit` (where, message) errors.

    No copy of the official SPDX 3.0.1 JSON schema ships in aibom's dependencies, so these checks stand
    in for it, written down here:
    1. the envelope: an object whose `@context` is the 3.0.1 context and whose `@graph` is a list of
       at most MAX_NODES objects;
    2. every node decodes with spdx-python-model: known `type`, known properties, values of the right
       type, enumeration values from the vocabulary (the model raises on anything else);
    3. cardinality of every property of every object (the min/max counts of the SPDX model);
    4. `spdxId`s are unique and every referenced element is in the document;
    5. exactly one SpdxDocument, whose CreationInfo has specVersion 3.0.1;
    and the profile rules a schema cannot express (SPDX 3.0.1 AI and Dataset profile conformance):
    6. every ai_AIPackage and dataset_DatasetPackage is the `from` of exactly one `hasDeclaredLicense` and
       exactly one `hasConcludedLicense` relationship;
    7. a document holding ai_ / dataset_ elements lists the `ai` / `dataset` profile in profileConformance.
    """
    errors: list[tuple[str, str]] = []

    def add(where: str, message: str) -> bool:
        errors.append((where, message[:500]))
        return len(errors) >= limit

    if not isinstance(data, dict):
        add("(document)", "not a JSON object")
        return errors
    if data.get("@context") != CONTEXT:
        add("/@context", f"must be {CONTEXT!r}")
        return errors
    graph = data.get("@graph")
    if not isinstance(graph, list) or not all(isinstance(n, dict) for n in graph):
        add("/@graph", "must be a list of objects")
        return errors
    if len(graph) > MAX_NODES:
        add("/@graph", f"{len(graph)} nodes is more than aibom checks ({MAX_NODES})")
        return errors
    ids: dict[str, int] = {}
    for n, node in enumerate(graph):
        sid = node.get("spdxId")
        if isinstance(sid, str):
            if sid in ids and add(f"/@graph/{n}", f"spdxId {sid!r} also used by /@graph/{ids[sid]}"):
                return errors
            ids.setdefault(sid, n)
    objset = spdx.SHACLObjectSet()
    try:
        spdx.JSONLDDeserializer().deserialize_data(data, objset)
    except RecursionError:
        add("/@graph", "nested too deeply")
        return errors
    except Exception as exc:  # the model raises TypeError/ValueError/KeyError on bad values
        add("/@graph", f"{type(exc).__name__}: {exc}")
        return errors
    missing = objset.link()
    for ref in sorted(missing):
        if add(ref, "referenced but not defined in this document"):
            return errors
    for obj in sorted(objset.foreach(), key=_key):
        for p in type(obj)._OBJ_PY_PROPS.values():
            value = getattr(obj, p.pyname)
            where = f"{_key(obj)} ({type(obj).__name__})"
            if p.prop.elide(value):
                if p.min_count and add(where, f"required property {p.pyname!r} is missing"):
                    return errors
                continue
            few = p.min_count is not None and not p.prop.check_min_count(value, p.min_count)
            many = p.max_count is not None and not p.prop.check_max_count(value, p.max_count)
            if few and add(where, f"property {p.pyname!r} needs at least {p.min_count} value(s)"):
                return errors
            if many and add(where, f"property {p.pyname!r} allows at most {p.max_count} value(s)"):
                return errors
    docs = list(objset.foreach_type(spdx.SpdxDocument))
    if len(docs) != 1:
        add("(document)", f"expected exactly one SpdxDocument, found {len(docs)}")
    for ci in objset.foreach_type(spdx.CreationInfo):
        if ci.specVersion != "3.0.1" and add("creationInfo", f"specVersion is {ci.specVersion!r}, not '3.0.1'"):
            return errors
    errors += _profile_errors(objset, docs)
    return errors[:limit]


def _profile_errors(objset: Any, docs: list[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    counts: dict[tuple[str, str], int] = {}
    for rel in objset.foreach_type(spdx.Relationship):
        kind = str(rel.relationshipType).rsplit("/", 1)[-1]
        if kind in ("hasDeclaredLicense", "hasConcludedLicense") and rel.from_ is not None:
            source = rel.from_ if isinstance(rel.from_, str) else rel.from_._id
            counts[(source, kind)] = counts.get((source, kind), 0) + 1
    used: set[str] = set()
    for cls, profile in ((spdx.ai_AIPackage, "ai"), (spdx.dataset_DatasetPackage, "dataset")):
        for obj in sorted(objset.foreach_type(cls), key=_key):
            used.add(profile)
            for kind in ("hasDeclaredLicense", "hasConcludedLicense"):
                n = counts.get((obj._id, kind), 0)
                if n != 1:
                    out.append(
                        (
                            f"{obj._id} ({cls.__name__})",
                            f"{profile} profile: needs exactly one {kind} relationship, has {n}",
                        )
                    )
    for doc in docs:
        declared = {str(p).rsplit("/", 1)[-1] for p in doc.profileConformance}
        for profile in sorted(used - declared):
            out.append(
                (
                    f"{doc._id} (SpdxDocument)",
                    f"profileConformance must list {profile!r}: the document has {profile} elements",
                )
            )
    return out
