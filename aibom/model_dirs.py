"""Model directories: a folder with a Hugging Face config, card, adapter config or shard index is ONE
model whose weight and metadata files are its parts.

The directory becomes a `machine-learning-model` artifact (ref `model-dir:<folder>`, no hash of its
own: each part keeps its SHA-256 and location and is nested under it). Its facts come from the
metadata files and from the weights' headers: parameters are summed over the shards of one
checkpoint, never over alternative copies of the weights (a `.bin` next to a `.safetensors`, or the
several quantisations of a GGUF repo). Shard indexes are checked against the shards' headers.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from . import hf_ids
from .hf_ids import card_license
from .inventory import (
    Artifact,
    Category,
    Evidence,
    ExternalRef,
    Finding,
    Inventory,
    Kind,
    License,
    Metric,
    ModelInfo,
    Provenance,
)
from .inventory import Severity as Sev
from .scanners.safetensors import DTYPE_BITS
from .tasks import task_io

DIR_PREFIX = "model-dir:"
#: Roles that make a folder a model directory on their own (a card needs model keys, or weights).
_DEFINING = ("config", "adapter-config", "weight-index")
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.")
#: The Hugging Face cache layout names the repo and the commit: `models--<org>--<name>/snapshots/<sha>`.
_HF_CACHE = re.compile(r"(?:^|/)models--(?P<org>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<rev>[0-9a-f]{40})$")


def folder_of(location: str) -> str:
    return location.rsplit("/", 1)[0] if "/" in location else ""


def dir_ref(folder: str) -> str:
    return f"{DIR_PREFIX}{folder or '.'}"


@dataclass
class DirFiles:
    """What one folder holds, by role."""

    folder: str
    meta: dict[str, list[Artifact]] = field(default_factory=dict)  # role -> metadata file artifacts
    weights: list[Artifact] = field(default_factory=list)  # Kind.MODEL files
    files: list[Artifact] = field(default_factory=list)  # other listed files (tokenizer.model, blobs ...)

    def facts(self, role: str) -> dict[str, Any]:
        """Facts of the first file of `role` (by path), or {}."""
        items = self.meta.get(role, [])
        return items[0].model_dir_file.facts if items and items[0].model_dir_file else {}

    def is_model_dir(self) -> bool:
        if any(role in self.meta for role in _DEFINING):
            return True
        return "card" in self.meta and (bool(self.weights) or bool(self.facts("card").get("model_keys")))


def tensor_bytes(info: ModelInfo) -> int | None:
    """Bytes of tensor data a safetensors header declares (from its per-dtype element counts)."""
    bits = 0
    for dtype, count in info.dtypes.items():
        if dtype not in DTYPE_BITS:
            return None
        bits += DTYPE_BITS[dtype] * count
    return bits // 8


def _name(a: Artifact) -> str:
    return (a.location or a.name).rsplit("/", 1)[-1]


def _finding(rule: str, category: Category, sev: Sev, msg: str, loc: str | None, ref: str, fix: str) -> Finding:
    return Finding(rule, category, sev, msg, location=loc, component=ref, remediation=fix)


def check_index(index: Artifact, present: dict[str, Artifact], ref: str) -> tuple[list[Artifact], list[Finding]]:
    """The shards an index names that are readable, and findings for missing or inconsistent ones."""
    facts = index.model_dir_file.facts if index.model_dir_file else {}
    shards: dict[str, int] = facts.get("shards", {})
    findings: list[Finding] = []
    missing = [s for s in shards if s not in present]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        findings.append(
            _finding(
                "shard-missing", Category.INTEGRITY, Sev.ERROR,
                f"the shard index names {len(missing)} of {len(shards)} shard file(s) that are not in the folder: "
                f"{shown}", index.location, ref,
                "Ship every shard the index names (or regenerate the index for the shards you ship).",
            )
        )  # fmt: skip
    readable = [present[s] for s in shards if s in present and present[s].kind is Kind.MODEL and present[s].model]
    total = facts.get("total_size")
    if not missing and len(readable) == len(shards) and total is not None:
        sizes = [tensor_bytes(w.model) if w.format == "safetensors" and w.model else None for w in readable]
        if all(s is not None for s in sizes):
            actual = sum(s for s in sizes if s is not None)
            if actual != total:
                findings.append(
                    _finding(
                        "shard-size-mismatch", Category.INTEGRITY, Sev.WARNING,
                        f"the shard index declares total_size {total} but the shards' headers hold {actual} bytes "
                        "of tensors", index.location, ref,
                        "Regenerate the index from the shards, or find which shard was replaced.",
                    )
                )  # fmt: skip
    return readable, findings


def choose_weights(d: DirFiles, ref: str) -> tuple[list[Artifact] | None, list[Finding], bool]:
    """(the weight files that together are the checkpoint or None if ambiguous, findings, sharded?)."""
    present = {_name(a): a for a in d.weights + d.files}
    indexes = sorted(
        d.meta.get("weight-index", []),
        key=lambda a: (not _name(a).endswith(".safetensors.index.json"), a.location or ""),
    )
    findings: list[Finding] = []
    chosen: list[Artifact] | None = None
    for index in indexes:
        readable, found = check_index(index, present, ref)
        findings += found
        shards = index.model_dir_file.facts.get("shards", {}) if index.model_dir_file else {}
        if chosen is None:
            chosen = readable if len(readable) == len(shards) else None
    if indexes:
        return chosen, findings, True
    pool = [w for w in d.weights if w.format == "safetensors"] or d.weights
    if len(pool) == 1:
        return pool, findings, False
    if pool and all(_SHARD.search(_name(w)) for w in pool):
        return pool, findings, True
    return (None if pool else []), findings, False


def sum_info(weights: list[Artifact]) -> ModelInfo:
    info = ModelInfo()
    if not weights or not all(w.model and w.model.parameter_count is not None for w in weights):
        return info
    info.parameter_count = sum(w.model.parameter_count or 0 for w in weights if w.model)
    counts = [w.model.tensor_count for w in weights if w.model]
    info.tensor_count = sum(c for c in counts if c is not None) if all(c is not None for c in counts) else None
    for w in weights:
        for dtype, n in (w.model.dtypes if w.model else {}).items():
            info.dtypes[dtype] = info.dtypes.get(dtype, 0) + n
    return info


def inherit(info: ModelInfo, weights: list[Artifact]) -> None:
    """Facts the weight headers agree on (a GGUF's architecture, quantisation, context length ...) fill
    what the directory's own metadata left open."""
    infos = [w.model for w in weights if w.model is not None]
    if not infos or len(infos) != len(weights):
        return
    for attr in ("architecture_family", "architecture", "task"):
        values = {getattr(i, attr) for i in infos}
        if getattr(info, attr) is None and len(values) == 1:
            setattr(info, attr, values.pop())
    shared = dict(infos[0].properties)
    for other in infos[1:]:
        shared = {k: v for k, v in shared.items() if other.properties.get(k) == v}
    for key, value in shared.items():
        info.properties.setdefault(key, value)


def remote_code_findings(d: DirFiles, ref: str) -> tuple[list[Finding], list[Evidence]]:
    """`auto_map` means loading runs repo code (`trust_remote_code`).

    WARNING when every module it names ships in the folder (the code is here to review and is listed
    as evidence); ERROR when a module is missing or lives in another Hub repo (`repo--module.Class`),
    because loading would then fetch and run code that is not in the scanned tree.
    """
    findings: list[Finding] = []
    evidence: list[Evidence] = []
    for role in ("config", "tokenizer-config"):
        for meta in d.meta.get(role, []):
            auto = meta.model_dir_file.facts.get("auto_map") if meta.model_dir_file else None
            if not auto:
                continue
            local, present, remote = auto.get("local", []), auto.get("present", []), auto.get("remote", [])
            absent = [m for m in local if m not in present]
            for module in present:
                evidence.append(Evidence(posixpath.join(d.folder, f"{module}.py"), symbol="auto_map"))
            names = [f"{m}.py" for m in local] + remote
            if remote or absent:
                outside = [f"{m}.py (not in the folder)" for m in absent] + [f"{r} (another Hub repo)" for r in remote]
                findings.append(
                    _finding(
                        "remote-code-on-load", Category.UNSAFE_CODE, Sev.ERROR,
                        f"{_name(meta)} auto_map makes loading run code from outside this tree "
                        f"(trust_remote_code): {', '.join(outside)}", meta.location, ref,
                        "Vendor and review the modelling code, pin it, or use an architecture the library ships.",
                    )
                )  # fmt: skip
            else:
                findings.append(
                    _finding(
                        "remote-code-on-load", Category.UNSAFE_CODE, Sev.WARNING,
                        f"{_name(meta)} auto_map makes loading run this folder's Python code "
                        f"(trust_remote_code): {', '.join(names)}", meta.location, ref,
                        "Review these modules before loading with trust_remote_code=True.",
                    )
                )  # fmt: skip
    return findings, evidence


def _card_licenses(card: dict[str, Any], source: str | None) -> list[License]:
    out: list[License] = []
    for tag in card.get("licenses", []):
        lic = card_license(tag, card.get("license_name"), card.get("license_link"))
        if lic is not None:
            lic.source = source
            out.append(lic)
    return out


def _properties(d: DirFiles, info: ModelInfo, weights: list[Artifact] | None, sharded: bool) -> None:
    config, card, adapter = d.facts("config"), d.facts("card"), d.facts("adapter-config")
    tok = d.facts("tokenizer-config")
    p = info.properties
    if dtype := config.get("dtype"):
        p["cdx:ai-ml:model:config:dtype"] = dtype
    quant = config.get("quantization", {})
    if quant.get("method"):
        p["cdx:ai-ml:model:quantization"] = quant["method"]
    if quant.get("bits"):
        p["cdx:ai-ml:model:quantization:bits"] = str(quant["bits"])
    if quant.get("type"):
        p["cdx:ai-ml:model:quantization:type"] = quant["type"]
    context = config.get("context_length", tok.get("model_max_length"))
    if context is not None:
        p["cdx:ai-ml:model:context:length"] = str(context)
    for key, name in (("library_name", "library"), ("base_model_relation", "base-model:relation")):
        if card.get(key):
            p[f"cdx:ai-ml:model:{name}"] = card[key]
    for key, name in (("languages", "language"), ("tags", "tags")):
        if card.get(key):
            p[f"cdx:ai-ml:model:{name}"] = ",".join(card[key])
    if adapter:
        for key, name in (("peft_type", "type"), ("task_type", "task-type"), ("r", "rank"), ("lora_alpha", "alpha")):
            if adapter.get(key) is not None:
                p[f"cdx:ai-ml:model:adapter:{name}"] = str(adapter[key])
        if adapter.get("target_modules"):
            p["cdx:ai-ml:model:adapter:target-modules"] = ",".join(adapter["target_modules"])
    if tok.get("chat_template_sha256"):
        p["cdx:ai-ml:model:chat-template:sha256"] = tok["chat_template_sha256"]
    if weights:
        p["cdx:ai-ml:model:weights:format"] = ",".join(sorted({w.format or "unknown" for w in weights}))
        p["cdx:ai-ml:model:weights:files"] = str(len(weights))
    elif weights is None:
        p["cdx:ai-ml:model:weights:variants"] = str(len(d.weights))
    if sharded:
        p["cdx:ai-ml:model:weights:sharded"] = "true"


def hub_identity(d: DirFiles, card: dict[str, Any]) -> tuple[str, str | None] | None:
    """(Hub repo id, commit or None) when the tree says which repo this is: the HF cache path, or a
    `model-index` name of the `org/name` form."""
    if m := _HF_CACHE.search(d.folder):
        hub_id = hf_ids.repo_id(f"{m.group('org')}/{m.group('name')}")
        if hub_id:
            return hub_id, m.group("rev")
    name = card.get("model_name") or ""
    if "/" in name and (hub_id := hf_ids.repo_id(name)):
        return hub_id, None
    return None


def build_dir_model(d: DirFiles, root_name: str) -> tuple[Artifact, list[Finding]]:
    ref = dir_ref(d.folder)
    config, card, adapter = d.facts("config"), d.facts("card"), d.facts("adapter-config")
    weights, findings, sharded = choose_weights(d, ref)
    info = sum_info(weights or [])
    info.architecture_family = config.get("model_type")
    info.architecture = ", ".join(config.get("architectures", [])) or None
    info.task = card.get("pipeline_tag")
    info.inputs, info.outputs = task_io(info.task)
    inherit(info, weights or [])
    info.metrics = [Metric(m["type"], m["value"], m.get("slice")) for m in card.get("metrics", [])]
    _properties(d, info, weights, sharded)
    code_findings, code_evidence = remote_code_findings(d, ref)
    findings += code_findings
    parts = sorted(d.weights + d.files + [m for items in d.meta.values() for m in items], key=lambda a: a.ref)
    cards = d.meta.get("card", [])
    model = Artifact(
        kind=Kind.MODEL,
        name=card.get("model_name") or (d.folder.rsplit("/", 1)[-1] if d.folder else root_name),
        ref=ref,
        format="peft-adapter" if adapter else "hf-model-directory",
        model=info,
        parts=parts,
        evidence=sorted(
            {ev for part in parts for ev in part.evidence} | set(code_evidence),
            key=lambda e: (e.location, e.symbol or "", e.line or 0, e.offset or 0),
        ),
        licenses=_card_licenses(card, cards[0].location if cards else None),
    )
    if card.get("licenses") == ["unknown"]:
        model.properties["aibom:license:card"] = "unknown"
    for n, base in enumerate(card.get("base_models", [])):
        model.properties[f"aibom:hf:base_model.{n}"] = base
    if adapter.get("base_model"):
        model.properties["aibom:hf:adapter:base_model"] = adapter["base_model"]
    for n, dataset in enumerate(card.get("datasets", [])):
        model.properties[f"aibom:hf:dataset.{n}"] = dataset
    for c in cards:
        model.external_refs.append(ExternalRef("model-card", c.location or "", "model card in the scanned tree"))
    if identity := hub_identity(d, card):
        hub_id, revision = identity
        model.purl = hf_ids.purl(hub_id, version=revision)
        if not card.get("model_name"):
            model.name = hub_id  # a cache snapshot folder is named by its commit
        model.version = revision
        model.provenance.append(Provenance("huggingface", hf_ids.url(hub_id), revision))
        if cards:
            model.external_refs.append(ExternalRef("model-card", hf_ids.url(hub_id), "model card on the Hub"))
    return model, findings


def group(inv: Inventory) -> None:
    """Replace each model directory's files with one model artifact that nests them."""
    dirs: dict[str, DirFiles] = {}
    for a in inv.artifacts:
        if not a.location or a.external:
            continue
        folder = folder_of(a.location)
        if a.model_dir_file is not None:
            d = dirs.setdefault(folder, DirFiles(folder))
            d.meta.setdefault(a.model_dir_file.role, []).append(a)
    if not dirs:
        return
    for a in inv.artifacts:
        if a.model_dir_file is None and a.location and (d := dirs.get(folder_of(a.location))) is not None:
            if a.kind is Kind.MODEL:
                d.weights.append(a)
            elif a.kind is Kind.FILE:
                d.files.append(a)
    absorbed: set[str] = set()
    owner: dict[str, str] = {}  # part ref -> model directory ref
    models: list[Artifact] = []
    for folder in sorted(dirs):
        d = dirs[folder]
        for items in d.meta.values():
            items.sort(key=lambda a: a.location or "")
            absorbed.update(a.ref for a in items)  # metadata files outside a model dir are not listed
        if not d.is_model_dir():
            continue
        model, findings = build_dir_model(d, inv.root_name)
        absorbed.update(a.ref for a in model.parts)
        owner.update(dict.fromkeys((a.ref for a in model.parts), model.ref))
        models.append(model)
        inv.findings.extend(findings)
    inv.artifacts = [a for a in inv.artifacts if a.ref not in absorbed] + models
    # A part's findings belong to the model (their location still names the file): policies and BOM
    # readers see every finding on a top-level component.
    for finding in inv.findings:
        if finding.component in owner:
            finding.component = owner[finding.component]
