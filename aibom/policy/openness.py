"""Openness level per model, from what the inventory shows is present (never from what a card claims)."""

from __future__ import annotations

from ..inventory import Artifact, Kind
from .context import Context, dataset_refs, is_external

LEVELS = ("reproducible", "open-source-ai", "open-weights", "restricted-weights", "proprietary-blob")
PROPERTY = "aibom:openness"


def rank(level: str) -> int:
    """Higher is more open."""
    return len(LEVELS) - LEVELS.index(level)


def blob_reasons(ctx: Context, model: Artifact) -> list[str]:
    """Why the weights are an opaque blob: no license, an unknown license, an unidentified format, no hash."""
    reasons = []
    lic = ctx.license_of(model)
    if lic is None:
        reasons.append("no license")
    elif not lic.known:
        reasons.append(f"unknown license {lic.label}")
    if model.format == "unknown-binary":  # None: not stated (another tool's BOM), not unidentified
        reasons.append("unidentified format")
    hashed = model.sha256 or any(p.sha256 for p in getattr(model, "parts", []))  # a model directory: its files
    if not hashed and model.properties.get("aibom:lfs:pointer") != "true":
        reasons.append("no hash")
    return reasons


def _restricted(ctx: Context, model: Artifact) -> bool:
    lic = ctx.license_of(model)
    if lic is None or not lic.open:
        return True
    return any(
        (c := ctx.license_of(base)) is None or not c.open for base in ctx.inputs(model) if base.kind is Kind.MODEL
    )


def level(ctx: Context, model: Artifact) -> str:
    if blob_reasons(ctx, model):
        return "proprietary-blob"
    if _restricted(ctx, model):
        return "restricted-weights"
    refs = dataset_refs(model)
    if not ctx.code_locations or not refs:
        return "open-weights"
    datasets = [ctx.by_ref[r] for r in refs if r in ctx.by_ref]
    code_open = ctx.outbound is not None and ctx.outbound.open
    data_open = len(datasets) == len(refs) and all(
        not is_external(d) and (c := ctx.license_of(d)) is not None and c.open for d in datasets
    )
    if code_open and data_open:
        return "reproducible"
    return "open-source-ai" if code_open else "open-weights"


def annotate(ctx: Context) -> dict[str, str]:
    """Compute every model's level and record it as the `aibom:openness` property; returns ref -> level."""
    levels = {}
    for model in ctx.models:
        levels[model.ref] = level(ctx, model)
        model.properties[PROPERTY] = levels[model.ref]
    return levels
