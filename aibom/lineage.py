"""Lineage: models -> the datasets and base models their cards, adapter configs and GGUF headers name.

A named dataset is matched to a local dataset artifact when one carries the same Hub id (see
`match_dataset`); otherwise it becomes an external `data` component with a `pkg:huggingface` purl.
Base models likewise: a local model directory (an adapter's relative `base_model_name_or_path`), or
an external `machine-learning-model` component. Every edge goes into `depends_on`, base models also
into `ancestors`, so the whole lineage is one graph in the BOM.
"""

from __future__ import annotations

import posixpath
import re

from . import hf_ids
from .inventory import Artifact, ExternalRef, Inventory, Kind, ModelInfo
from .model_dirs import DIR_PREFIX, dir_ref, folder_of

#: The property a dataset artifact sets to say which Hub dataset it is (e.g. from its card or a
#: `datasets` cache path). Matching is case-insensitive on the full id.
DATASET_HUB_ID = "aibom:dataset:hub_id"
_HF_BASE = re.compile(r"^aibom:hf:base_model\.\d+$")
_HF_DATASET = re.compile(r"^aibom:hf:dataset\.\d+$")
_GGUF_BASE = re.compile(r"^aibom:gguf:base_model\.(\d+)\.(repo_url|name|organization)$")


def match_dataset(name: str, datasets: list[Artifact]) -> Artifact | None:
    """The local dataset a card's `datasets:` entry names: same Hub id property first, then a dataset
    whose folder (or name) equals the id's last segment (`org/movie-reviews` ~ `data/movie-reviews/`)."""
    key = name.casefold()
    for a in datasets:
        if a.properties.get(DATASET_HUB_ID, "").casefold() == key:
            return a
    last = key.rsplit("/", 1)[-1]
    for a in datasets:
        folder = folder_of(a.location or "").rsplit("/", 1)[-1].casefold()
        if last in (a.name.casefold(), folder):
            return a
    return None


def _external(kind: Kind, name: str, registry: dict[str, Artifact]) -> Artifact:
    """The external artifact for a Hub id (with purl) or a free-form name (without), shared by ref."""
    hub_kind = "dataset" if kind is Kind.DATASET else "model"
    hub_id = hf_ids.repo_id(name, hub_kind)
    ref = f"hf:{hub_kind}:{hub_id}" if hub_id else f"named-{hub_kind}:{name}"
    if ref not in registry:
        artifact = Artifact(kind=kind, name=hub_id or name, ref=ref, external=True)
        if hub_id:
            artifact.purl = hf_ids.purl(hub_id, hub_kind)
            artifact.external_refs.append(ExternalRef("website", hf_ids.url(hub_id, hub_kind)))
        if kind is Kind.MODEL:
            artifact.model = ModelInfo()
        registry[ref] = artifact
    return registry[ref]


def base_model_names(model: Artifact) -> list[str]:
    """Hub ids or names of the base models a model (or any of its parts) declares."""
    names: list[str] = []
    for a in model.walk():
        props = a.properties
        names += [props[k] for k in sorted(props) if _HF_BASE.match(k)]
        gguf: dict[str, dict[str, str]] = {}
        for key in sorted(props):
            if m := _GGUF_BASE.match(key):
                gguf.setdefault(m.group(1), {})[m.group(2)] = props[key]
        for n in sorted(gguf, key=int):
            entry = gguf[n]
            hub_id = hf_ids.repo_id(entry.get("repo_url", ""))
            if hub_id and "/" in hub_id:
                names.append(hub_id)
            elif org_name := "/".join(v for v in (entry.get("organization"), entry.get("name")) if v):
                names.append(org_name)
    return list(dict.fromkeys(n for n in names if n))


def link_lineage(inv: Inventory) -> None:
    registry: dict[str, Artifact] = {a.ref: a for a in inv.artifacts if a.external}
    local = {a.ref: a for a in inv.artifacts}
    datasets = [a for a in inv.artifacts if a.kind is Kind.DATASET and not a.external]
    for model in [a for a in inv.artifacts if a.kind is Kind.MODEL and not a.external]:
        bases: list[str] = []
        adapter_base = model.properties.get("aibom:hf:adapter:base_model")
        if adapter_base and hf_ids.repo_id(adapter_base) is None and model.ref.startswith(DIR_PREFIX):
            # a relative path: the base model may be another model directory in this tree
            folder = model.ref.removeprefix(DIR_PREFIX)
            target = posixpath.normpath(posixpath.join("" if folder == "." else folder, adapter_base))
            ref = dir_ref("" if target == "." else target)
            if not target.startswith(("../", "/")) and target != ".." and ref in local and ref != model.ref:
                bases.append(ref)
        names = base_model_names(model)
        if adapter_base and hf_ids.repo_id(adapter_base):
            names.append(adapter_base)
        for name in dict.fromkeys(names):
            bases.append(_external(Kind.MODEL, name, registry).ref)
        model.ancestors = list(dict.fromkeys(model.ancestors + bases))
        refs: list[str] = []
        for key in sorted(k for k in model.properties if _HF_DATASET.match(k)):
            name = model.properties[key]
            found = match_dataset(name, datasets)
            refs.append(found.ref if found else _external(Kind.DATASET, name, registry).ref)
        if model.model is not None:
            model.model.datasets = list(dict.fromkeys(model.model.datasets + refs))
        model.depends_on = list(dict.fromkeys(model.depends_on + refs + model.ancestors))
    inv.artifacts += [a for ref, a in sorted(registry.items()) if ref not in local]
