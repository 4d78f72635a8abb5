"""The policy rules: each has an id, a category from the fixed set, a default severity, a rationale and a fix.

A rule's check reads only the inventory (through `Context`) and yields findings; the engine applies the
policy file (disabled rules, severities, waivers). `docs/rules.md` is generated from this catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..inventory import Artifact, Category, Finding, Kind, Severity
from .context import Context, ancestors, dataset_refs, is_external
from .licensing import COPYLEFT, LicenseClass, classify, code_compatible
from .openness import blob_reasons, level, rank

Check = Callable[[Context, "Rule"], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    category: Category
    severity: Severity
    title: str
    rationale: str
    remediation: str
    check: Check | None = None  # None: findings come from the scanners (passthrough)

    def finding(
        self,
        message: str,
        artifact: Artifact | None = None,
        severity: Severity | None = None,
        location: str | None = None,
    ) -> Finding:
        return Finding(
            rule=self.id,
            category=self.category,
            severity=severity or self.severity,
            message=message,
            location=location or (artifact.location if artifact else None),
            component=artifact.ref if artifact else None,
            remediation=self.remediation,
        )


RULES: dict[str, Rule] = {}


def rule(id: str, category: Category, severity: Severity, title: str, rationale: str, remediation: str):  # type: ignore[no-untyped-def]
    def wrap(check: Check) -> Check:
        RULES[id] = Rule(id, category, severity, title, rationale, remediation, check)
        return check

    return wrap


def passthrough(id: str, category: Category, severity: Severity, title: str, rationale: str, fix: str) -> None:
    RULES[id] = Rule(id, category, severity, title, rationale, fix)


passthrough(
    "unreadable-file",
    Category.UNREADABLE,
    Severity.ERROR,
    "A file could not be read or parsed",
    "A file that claims a format but cannot be parsed cannot be verified: it is never reported as clean.",
    "Replace the file with a valid one, or remove it; it cannot be verified as is.",
)
passthrough(
    "license-declarations-differ",
    Category.LICENSE_CONFLICT,
    Severity.WARNING,
    "A folder's license files and package or card metadata name different licenses",
    "Two declarations for the same files leave it open which one applies; aibom records both and resolves neither.",
    "Make the license files and package metadata agree, or document which applies to what.",
)
passthrough(
    "file-changed-during-scan",
    Category.INTEGRITY,
    Severity.ERROR,
    "A file changed while it was hashed",
    "The recorded hash would not describe what ships.",
    "Scan a tree that is not being written to.",
)


def _label(a: Artifact) -> str:
    return a.location or a.name


def _shipped(ctx: Context) -> Iterator[Artifact]:
    """Models and datasets the tree itself ships (not hub references)."""
    for a in ctx.artifacts:
        if a.kind in (Kind.MODEL, Kind.DATASET) and not is_external(a):
            yield a


@rule(
    "unidentified-binary",
    Category.PROPRIETARY_BLOB,
    Severity.WARNING,
    "A binary file of unknown format",
    "Nobody can tell what an unidentified binary is or does: it is opaque to review, to licensing "
    "and to load-safety checks.",
    "Replace it with a documented format (e.g. safetensors), document what it is, or exclude it if it is not shipped.",
)
def _unidentified(ctx: Context, r: Rule) -> Iterator[Finding]:
    for a in ctx.artifacts:
        if a.format == "unknown-binary" or a.properties.get("aibom:format:identified") == "false":
            yield r.finding(f"{_label(a)}: binary file of unknown format", a)


@rule(
    "unlicensed-weights",
    Category.PROPRIETARY_BLOB,
    Severity.ERROR,
    "Model weights without any license",
    "Weights with no license are all rights reserved: nobody may use, modify or redistribute them.",
    "Add a LICENSE file next to the weights (or at the root), or a `license:` in the model card.",
)
def _unlicensed_weights(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        if not m.licenses:
            yield r.finding(f"model {_label(m)} has no license: all rights reserved", m)


@rule(
    "opaque-weights",
    Category.PROPRIETARY_BLOB,
    Severity.WARNING,
    "Model weights that cannot be verified",
    "Weights in an unidentified format or without a hash cannot be checked or reproduced.",
    "Ship the weights in an identified format (safetensors, GGUF, ONNX ...) so they can be hashed and read.",
)
def _opaque_weights(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        reasons = [x for x in blob_reasons(ctx, m) if x in ("unidentified format", "no hash")]
        if reasons:
            yield r.finding(f"model {_label(m)}: {', '.join(reasons)}", m)


@rule(
    "missing-license",
    Category.MISSING_LICENSE,
    Severity.ERROR,
    "A shipped dataset, or the project, has no license",
    "Without a license nothing may be reused: all rights reserved.",
    "Add a LICENSE file (at the root for the project, next to the data for a dataset) or a "
    "`license:` in the dataset card.",
)
def _missing_license(ctx: Context, r: Rule) -> Iterator[Finding]:
    if ctx.outbound is None and ctx.artifacts:
        yield r.finding("the project has no license file at its root", severity=Severity.WARNING)
    for d in _shipped(ctx):
        if d.kind is Kind.DATASET and not d.licenses:
            yield r.finding(f"dataset {_label(d)} has no license", d)


@rule(
    "unknown-license",
    Category.UNKNOWN_LICENSE,
    Severity.WARNING,
    "A license aibom cannot identify",
    "A license that is neither an SPDX id nor a known AI license cannot be reasoned about.",
    "Use an SPDX license id, or list the license under `licenses.allow` in the policy file after reviewing it.",
)
def _unknown_license(ctx: Context, r: Rule) -> Iterator[Finding]:
    for a in ctx.artifacts:
        for lic in a.licenses:
            c = classify(lic)
            if not c.known and lic.label.lower() not in ctx.config.allow:
                yield r.finding(f"{_label(a)}: license {lic.label!r} is not an SPDX id or a known AI license", a)
    for lic in ctx.inv.root_licenses():  # the project's own license (other folders' apply to their artifacts)
        if not classify(lic).known and lic.label.lower() not in ctx.config.allow:
            yield r.finding(f"the project's license {lic.label!r} is not an SPDX id or a known AI license")


@rule(
    "denied-license",
    Category.LICENSE_CONFLICT,
    Severity.ERROR,
    "A license the policy denies",
    "The policy file lists this license under `licenses.deny`.",
    "Remove or replace the component, or change the policy.",
)
def _denied(ctx: Context, r: Rule) -> Iterator[Finding]:
    if not ctx.config.deny:
        return
    for a in ctx.artifacts:
        for lic in a.licenses:
            hit = sorted({i.lower() for i in classify(lic).ids} & ctx.config.deny)
            if hit:
                yield r.finding(f"{_label(a)}: license {lic.label} is denied by the policy ({', '.join(hit)})", a)


_DEV_SCOPES = {"dev", "test", "excluded"}


@rule(
    "copyleft-dependency",
    Category.LICENSE_CONFLICT,
    Severity.ERROR,
    "Copyleft code inside a differently licensed release",
    "A dependency whose license is incompatible with the release's outbound license (OSADL compatibility matrix, "
    "CC-BY-4.0, https://www.osadl.org/): the combined work cannot be released under the outbound license. "
    "Dev and test dependencies are not shipped: info only.",
    "Replace the dependency, make it optional/dev-only, or release under a compatible license.",
)
def _copyleft_dependency(ctx: Context, r: Rule) -> Iterator[Finding]:
    out = ctx.outbound
    if out is None or not out.ids:
        return
    for a in ctx.artifacts:
        if a.kind is not Kind.LIBRARY:
            continue
        for lic in a.licenses:
            verdict = code_compatible(out, lic)
            if verdict == "no":
                scope = a.properties.get("aibom:dependency:scope", "")
                sev = Severity.INFO if scope in _DEV_SCOPES else None
                yield r.finding(
                    f"dependency {a.name} is licensed {lic.label}, incompatible with the release license {out.label}",
                    a,
                    severity=sev,
                )


@rule(
    "copyleft-weights-without-source",
    Category.LICENSE_CONFLICT,
    Severity.ERROR,
    "Copyleft terms on a weights-only release",
    "GPL/AGPL terms require the corresponding source of what is distributed (for AGPL, also of what is offered over "
    "a network). For model weights that is the training code and data: a weights-only release cannot meet them.",
    "Release the training code and data with the weights, or license the weights separately (e.g. a "
    "LICENSE file next to them).",
)
def _copyleft_weights(ctx: Context, r: Rule) -> Iterator[Finding]:
    out = ctx.outbound
    for m in ctx.models:
        lic = ctx.license_of(m)
        # the weights' own license (or the folder license that covers them), or a release license the policy sets
        stated = out if ctx.config.release_license else None
        copyleft = [c for c in (lic, stated) if c is not None and c.category in COPYLEFT]
        if not copyleft:
            continue
        weights_only = ctx.config.distribution == "weights-only" or not dataset_refs(m) or not ctx.code_locations
        if weights_only:
            missing = [
                x
                for x, gone in (("training code", not ctx.code_locations), ("training data", not dataset_refs(m)))
                if gone
            ]
            what = " and ".join(missing) or "source (distribution: weights-only)"
            verb = "are" if len(missing) > 1 else "is"
            yield r.finding(
                f"model {_label(m)} is under {copyleft[0].label} but its {what} {verb} not released",
                m,
            )


@rule(
    "non-commercial-input",
    Category.LICENSE_CONFLICT,
    Severity.ERROR,
    "Non-commercial data or base model behind a commercially usable model",
    "A model made from non-commercial or research-only data or weights cannot be offered for commercial use.",
    "Retrain without the non-commercial input, or license the model for non-commercial use only "
    "(release.commercial = false).",
)
def _non_commercial(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        lic = ctx.license_of(m)
        commercial = (
            ctx.config.commercial
            and lic is not None
            and lic.category != "non-commercial"
            and lic.fact("commercial_use") is not False
        )
        if not commercial:
            continue
        for src in ctx.inputs(m):
            c = ctx.license_of(src)
            if c is not None and (c.category == "non-commercial" or c.fact("commercial_use") is False):
                kind = "dataset" if src.kind is Kind.DATASET else "base model"
                yield r.finding(
                    f"model {_label(m)} ({lic.label}) is built from {kind} {_label(src)} licensed "
                    f"{c.label} (non-commercial)",
                    m,
                )


@rule(
    "share-alike-input",
    Category.LICENSE_CONFLICT,
    Severity.WARNING,
    "Share-alike or no-derivatives data behind released weights",
    "ShareAlike terms may require adaptations to carry the same license; NoDerivatives data may not be adapted at all.",
    "Check whether the weights are an adaptation of the data; if so use data under compatible terms, "
    "or license accordingly.",
)
def _share_alike(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        lic = ctx.license_of(m)
        for src in ctx.inputs(m):
            c = ctx.license_of(src)
            if src.kind is Kind.DATASET and c is not None and c.category in ("share-alike", "no-derivatives"):
                if c.category == "share-alike" and lic is not None and lic.ids == c.ids:
                    continue
                yield r.finding(f"model {_label(m)} is trained on {_label(src)} licensed {c.label} ({c.category})", m)


@rule(
    "base-license-not-inherited",
    Category.LICENSE_CONFLICT,
    Severity.ERROR,
    "A derived model relabels its base model's license",
    "Fine-tunes, adapters, quantizations and merges are derivatives: licenses such as Llama, Gemma, RAIL or "
    "no-derivatives terms flow down and cannot be replaced by Apache-2.0 or MIT.",
    "License the derived model under its base model's terms (copy the license, NOTICE and use "
    "policy), or use a base whose license allows relicensing.",
)
def _base_license(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        lic = ctx.license_of(m)
        for ref in ancestors(m):
            base = ctx.by_ref.get(ref)
            c = ctx.license_of(base) if base else None
            if c is None:
                continue
            if c.category == "no-derivatives":
                yield r.finding(
                    f"model {_label(m)} is derived from {_label(base)} whose license {c.label} allows no derivatives", m
                )
            elif (
                c.ai
                and (c.fact("derivatives_same_license") or c.fact("use_restrictions_flow_down"))
                and (lic is None or lic.ai is None or classify_family(lic) != classify_family(c))
            ):
                label = lic.label if lic else "no license"
                yield r.finding(
                    f"model {_label(m)} is labelled {label} but its base {_label(base)} is under "
                    f"{c.label}, whose terms flow down",
                    m,
                )


@rule(
    "incompatible-merge",
    Category.LICENSE_CONFLICT,
    Severity.ERROR,
    "A merge of base models whose terms cannot both be met",
    "A merged model is a derivative of every base: when two bases each require their own license to flow down "
    "(e.g. Llama and Gemma, or Llama and GPL), no license can satisfy both.",
    "Merge only bases under compatible terms, or obtain a license that permits the combination.",
)
def _incompatible_merge(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        terms: dict[str, str] = {}  # what must flow down -> the base that imposes it
        for ref in ancestors(m):
            base = ctx.by_ref.get(ref)
            c = ctx.license_of(base) if base else None
            if c is None:
                continue
            if c.ai and (c.fact("derivatives_same_license") or c.fact("use_restrictions_flow_down")):
                terms.setdefault(f"{classify_family(c)} terms", _label(base))
            elif c.category in COPYLEFT:
                terms.setdefault(c.label, _label(base))
        if len(terms) > 1:
            parts = ", ".join(f"{base} ({what})" for what, base in sorted(terms.items()))
            yield r.finding(f"model {_label(m)} merges bases whose terms all flow down: {parts}", m)


def classify_family(c: LicenseClass) -> str | None:
    from .licensing import ai_licenses

    return ai_licenses()[c.ai]["family"] if c.ai else None


@rule(
    "model-license-mismatch",
    Category.LICENSE_CONFLICT,
    Severity.WARNING,
    "A model's card and its license file disagree",
    "The card declares one license and the LICENSE file beside the weights says another; users cannot tell "
    "which terms they accept.",
    "Make the card's `license:` and the LICENSE file agree (or explain the split in the card).",
)
def _model_license_mismatch(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        if mismatch := m.properties.get("aibom:license:mismatch"):
            yield r.finding(f"model {_label(m)}: {mismatch}", m)


@rule(
    "ai-license-obligations",
    Category.LICENSE_CONFLICT,
    Severity.WARNING,
    "Llama/Gemma/RAIL obligations not visible",
    "These licenses require a copy of the license to ship with the model, Llama and Gemma a NOTICE with a set "
    "text, and Llama 3 and later that a derived model's name begin with 'Llama'.",
    "Add the license text and a NOTICE file with the required attribution next to the model, and name "
    "derived models as the license requires.",
)
def _ai_obligations(ctx: Context, r: Rule) -> Iterator[Finding]:
    has_notice = any(lf.notice for lf in ctx.inv.license_files)
    for m in ctx.models:
        lic = ctx.license_of(m)
        if lic is None or lic.ai is None:
            continue
        family = classify_family(lic)
        # A copy of the license: a license file in the model's folder or above states it (a concluded license).
        copies = [classify(x) for x in m.licenses if x.acknowledgement == "concluded"]
        if not any(c.ai and classify_family(c) == family for c in copies):
            yield r.finding(f"model {_label(m)} is under {lic.label} but no copy of that license ships with it", m)
        if family in ("llama", "gemma") and lic.category in ("use-restricted", "non-commercial") and not has_notice:
            attribution = lic.fact("attribution")
            yield r.finding(
                f"model {_label(m)} is under {lic.label} but the tree has no NOTICE file ({attribution})", m
            )
        if ancestors(m) and (prefix := _required_prefix(lic)) and not m.name.lower().startswith(prefix.lower()):
            yield r.finding(
                f"derived model {_label(m)} is named {m.name!r}; {lic.label} requires the name to begin with "
                f"{prefix!r}",
                m,
            )


_BEGIN_WITH = re.compile(r"names? must begin with '([^']+)'")


def _required_prefix(lic: LicenseClass) -> str | None:
    """The name prefix a license's naming duty requires of derivatives, if it states one."""
    naming = lic.fact("naming")
    m = _BEGIN_WITH.search(naming) if isinstance(naming, str) else None
    return m.group(1) if m else None


@rule(
    "no-training-data",
    Category.MISSING_DATA_PROVENANCE,
    Severity.WARNING,
    "A model with no training-data provenance",
    "Without any reference to its training data a model cannot be audited or reproduced (the data is its source).",
    "Name the training datasets in the model card (`datasets:`) and ship them or link to them.",
)
def _no_training_data(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        if not dataset_refs(m):
            yield r.finding(f"model {_label(m)} names no training data", m)


@rule(
    "training-data-not-found",
    Category.MISSING_DATA_PROVENANCE,
    Severity.INFO,
    "A declared dataset is not in the release",
    "The model names its training data, but the data is not shipped in the tree (a hub reference at best).",
    "Ship the dataset, or pin it by a versioned, hashed reference.",
)
def _data_not_found(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        for ref in dataset_refs(m):
            d = ctx.by_ref.get(ref)
            if d is None or is_external(d):
                yield r.finding(f"model {_label(m)} names dataset {d.name if d else ref}, which is not in the tree", m)


_OPEN_CLAIM = re.compile(r"\bopen[- _]?source\b", re.IGNORECASE)
_CLAIM_PROPERTIES = ("cdx:ai-ml:model:tags",)  # card tags, as the hf-dirs branch records them


@rule(
    "openwashing",
    Category.LICENSE_CONFLICT,
    Severity.WARNING,
    "A model called open source that is not",
    "The card calls the model open source, but what is released does not reach `open-source-ai` "
    "(open weights and training code under open terms, training data named): the claim misleads users.",
    "Release what is missing (see the model's openness level), or drop the open-source claim from the card.",
)
def _openwashing(ctx: Context, r: Rule) -> Iterator[Finding]:
    for m in ctx.models:
        texts = [m.description or ""] + [(m.model.properties.get(k, "") if m.model else "") for k in _CLAIM_PROPERTIES]
        if not any(_OPEN_CLAIM.search(t[:100000]) for t in texts):
            continue
        lvl = m.properties.get("aibom:openness") or level(ctx, m)
        if rank(lvl) < rank("open-source-ai"):
            yield r.finding(f"model {_label(m)} is described as open source but its openness level is {lvl}", m)


@rule(
    "openness-below-minimum",
    Category.PROPRIETARY_BLOB,
    Severity.ERROR,
    "A model below the policy's minimum openness",
    "The policy file sets `release.min-openness`; the computed level (from what is present) is lower.",
    "Release what the level needs (license, training code, training data) or lower the minimum.",
)
def _min_openness(ctx: Context, r: Rule) -> Iterator[Finding]:
    minimum = ctx.config.min_openness
    if not minimum:
        return
    for m in ctx.models:
        lvl = m.properties.get("aibom:openness") or level(ctx, m)
        if rank(lvl) < rank(minimum):
            yield r.finding(f"model {_label(m)} is {lvl}, below the required {minimum}", m)
