"""The one place where aibom adds what cyclonedx-python-lib cannot build yet: `modelCard` and `data`.

The library serialises everything else; these functions put the two ML fields into its JSON or XML
output at the position the schema requires. The result is validated by the caller.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from ..inventory import Artifact, Kind

MLFields = dict[str, dict[str, Any]]  # bom-ref -> {"modelCard": {...}} and/or {"data": [...]}

#: JSON array name -> XML element name of each item, for the parts of modelCard/data aibom writes.
_XML_ITEMS = {
    "inputs": "input",
    "outputs": "output",
    "performanceMetrics": "performanceMetric",
    "users": "user",
    "useCases": "useCase",
    "technicalLimitations": "technicalLimitation",
    "performanceTradeoffs": "performanceTradeoff",
    "ethicalConsiderations": "ethicalConsideration",
}
#: Component children that come after modelCard / after data in the XSD sequence.
_AFTER_MODEL_CARD = ("data", "cryptoProperties", "tags", "signature")
_AFTER_DATA = ("cryptoProperties", "tags", "signature")


def _props(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": values[k]} for k in sorted(values)]


def model_card(artifact: Artifact) -> dict[str, Any]:
    """The CycloneDX modelCard of a model artifact, from its ModelInfo."""
    info = artifact.model
    card: dict[str, Any] = {}
    params: dict[str, Any] = {}
    props: dict[str, str] = {}
    if artifact.format:
        props["cdx:ai-ml:model:format"] = artifact.format
    if info is not None:
        if info.task:
            params["task"] = info.task
        if info.architecture_family:
            params["architectureFamily"] = info.architecture_family
        if info.architecture:
            params["modelArchitecture"] = info.architecture
        if info.datasets:
            params["datasets"] = [{"ref": ref} for ref in info.datasets]
        if info.inputs:
            params["inputs"] = [{"format": fmt} for fmt in info.inputs]
        if info.outputs:
            params["outputs"] = [{"format": fmt} for fmt in info.outputs]
        if info.parameter_count is not None:
            props["cdx:ai-ml:model:parameter:count"] = str(info.parameter_count)
        if info.tensor_count is not None:
            props["cdx:ai-ml:model:tensor:count"] = str(info.tensor_count)
        if info.primary_dtype:
            props["cdx:ai-ml:model:dtype"] = info.primary_dtype
        if info.dtypes:
            props["cdx:ai-ml:model:dtypes"] = ",".join(f"{d}={info.dtypes[d]}" for d in sorted(info.dtypes))
        props.update(info.properties)
    if params:
        card["modelParameters"] = params
    if info is not None and info.metrics:
        metrics = []
        for m in info.metrics:
            entry = {"type": m.type, "value": m.value}
            if m.slice:
                entry["slice"] = m.slice
            metrics.append(entry)
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    if props:
        card["properties"] = _props(props)
    return card


def data_entries(artifact: Artifact) -> list[dict[str, Any]]:
    """The CycloneDX `data[]` of a dataset: its name and the dataset facts as content properties."""
    entry: dict[str, Any] = {"type": "dataset", "name": artifact.name}
    contents: dict[str, Any] = {}
    urls = [ref.url for ref in artifact.external_refs if ref.type == "website"]
    if artifact.external and urls:
        contents["url"] = urls[0]
    facts = {k: v for k, v in artifact.properties.items() if k.startswith("aibom:dataset:")}
    if facts:
        contents["properties"] = _props(facts)
    if contents:
        entry["contents"] = contents
    if artifact.description:
        entry["description"] = artifact.description
    return [entry]


def collect(artifacts: list[Artifact]) -> MLFields:
    """modelCard/data of the top-level artifacts (nested parts are plain files, see cyclonedx._component)."""
    fields: MLFields = {}
    for artifact in artifacts:
        if artifact.kind == Kind.MODEL:  # ==, not is: a copied inventory may hold plain strings
            fields[artifact.ref] = {"modelCard": model_card(artifact)}
        elif artifact.kind == Kind.DATASET:
            fields[artifact.ref] = {"data": data_entries(artifact)}
    return fields


def _walk_components(components: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    for comp in components:
        yield comp
        yield from _walk_components(comp.get("components", []))


def add_to_json(doc: dict[str, Any], fields: MLFields) -> None:
    """Insert the fields into a parsed CycloneDX JSON document, in place."""
    for comp in _walk_components(doc.get("components", [])):
        extra = fields.get(comp.get("bom-ref", ""))
        if extra:
            comp.update(extra)


def _occurrence_key(occ: dict[str, Any]) -> tuple[str, int, int, str]:
    return (occ.get("location", ""), occ.get("line", 0), occ.get("offset", 0), occ.get("symbol", ""))


def sort_occurrences_json(doc: dict[str, Any]) -> None:
    """Put evidence occurrences in location order.

    cyclonedx-python-lib orders occurrences by their (randomly generated) bom-refs first, so a
    component with several occurrences would come out in a different order on every run.
    """
    for comp in _walk_components(doc.get("components", [])):
        occurrences = comp.get("evidence", {}).get("occurrences")
        if occurrences:
            occurrences.sort(key=_occurrence_key)


def _sort_occurrences_xml(root: ET.Element, ns: str) -> None:
    for holder in root.iter(f"{{{ns}}}occurrences"):
        items = list(holder)

        def key(el: ET.Element) -> tuple[str, int, int, str]:
            def val(name: str) -> str:
                child = el.find(f"{{{ns}}}{name}")
                return child.text or "" if child is not None else ""

            return (val("location"), int(val("line") or 0), int(val("offset") or 0), val("symbol"))

        for el in items:
            holder.remove(el)
        holder.extend(sorted(items, key=key))


def _to_xml(parent: ET.Element, ns: str, name: str, value: Any) -> None:
    tag = f"{{{ns}}}{name}"
    if name == "properties":
        holder = ET.SubElement(parent, tag)
        for prop in value:
            el = ET.SubElement(holder, f"{{{ns}}}property", {"name": prop["name"]})
            el.text = prop["value"]
    elif name == "datasets":
        holder = ET.SubElement(parent, tag)
        for item in value:
            ET.SubElement(holder, f"{{{ns}}}ref").text = item["ref"]
    elif isinstance(value, list):
        holder = ET.SubElement(parent, tag)
        for item in value:
            _to_xml(holder, ns, _XML_ITEMS[name], item)
    elif isinstance(value, dict):
        el = ET.SubElement(parent, tag, {"bom-ref": value["bom-ref"]} if "bom-ref" in value else {})
        for key, sub in value.items():
            if key != "bom-ref":
                _to_xml(el, ns, key, sub)
    else:
        ET.SubElement(parent, tag).text = str(value)


def _insert_before(component: ET.Element, ns: str, new: ET.Element, successors: tuple[str, ...]) -> None:
    names = {f"{{{ns}}}{s}" for s in successors}
    for index, child in enumerate(list(component)):
        if child.tag in names:
            component.insert(index, new)
            return
    component.append(new)


def add_to_xml(xml_text: str, fields: MLFields) -> str:
    """Insert the fields into a CycloneDX XML document at their schema positions."""
    ET.register_namespace("", xml_text.split('xmlns="', 1)[1].split('"', 1)[0])
    root = ET.fromstring(xml_text)
    ns = root.tag[1:].split("}", 1)[0]
    for component in root.iter(f"{{{ns}}}component"):
        extra = fields.get(component.get("bom-ref", ""))
        if not extra:
            continue
        if "modelCard" in extra:
            holder = ET.Element("tmp")
            _to_xml(holder, ns, "modelCard", extra["modelCard"])
            _insert_before(component, ns, holder[0], _AFTER_MODEL_CARD)
        for entry in extra.get("data", []):
            holder = ET.Element("tmp")
            _to_xml(holder, ns, "data", entry)
            _insert_before(component, ns, holder[0], _AFTER_DATA)
    _sort_occurrences_xml(root, ns)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
