"""What a model lacks to reach the next openness level, in plain words (mirrors `policy.openness.level`)."""

from __future__ import annotations

from ..inventory import Artifact, Kind
from ..policy.context import Context, dataset_refs, is_external
from ..policy.openness import LEVELS, blob_reasons


def next_level(level: str) -> str | None:
    i = LEVELS.index(level)
    return LEVELS[i - 1] if i > 0 else None


def gaps(ctx: Context, model: Artifact, level: str) -> list[str]:
    """The reasons `model` is at `level` and not the next one up; empty at the top."""
    if level == "proprietary-blob":
        fixes = {
            "no license": "declare a license (model card `license:` or a LICENSE file beside the weights)",
            "unidentified format": "ship the weights in an identifiable format (e.g. safetensors, GGUF, ONNX)",
            "no hash": "ship the weight file itself (or its Git LFS pointer) so it can be hashed",
        }
        out = []
        for reason in blob_reasons(ctx, model):
            out.append(fixes.get(reason, f"{reason}: use an SPDX id or a known AI license name"))
        return out
    if level == "restricted-weights":
        out = []
        lic = ctx.license_of(model)
        if lic is None or not lic.open:
            label = lic.label if lic else "none"
            out.append(f"the weights' license ({label}, {lic.category if lic else 'none'}) is not open")
        for base in ctx.inputs(model):
            if base.kind is Kind.MODEL and ((c := ctx.license_of(base)) is None or not c.open):
                what = f"{c.label}, {c.category}" if c else "no license"
                out.append(f"base model {base.name} is not under open terms ({what})")
        return out
    refs = dataset_refs(model)
    if level == "open-weights":
        out = []
        if not ctx.code_locations:
            out.append("no training code is shipped (no source files or dependency manifests)")
        elif ctx.outbound is None or not ctx.outbound.open:
            out.append("the code has no open license (add an open LICENSE at the root)")
        if not refs:
            out.append("no training dataset is named (list `datasets:` in the model card)")
        return out
    if level == "open-source-ai":
        out = []
        for ref in refs:
            data = ctx.by_ref.get(ref)
            if data is None:
                out.append(f"dataset {ref} is not in the inventory")
            elif is_external(data):
                out.append(f"dataset {data.name} is named but not shipped in the tree")
            elif (c := ctx.license_of(data)) is None or not c.open:
                out.append(f"dataset {data.name} has no open license ({c.label if c else 'none'})")
        return out
    return []
