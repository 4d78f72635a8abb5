"""What every BOM writer needs to know about an inventory beyond one artifact: nesting and links.

Some inventory fields (`parts`, `ancestors`, `depends_on`, `ModelInfo.datasets`, `external`) are added by
sibling branches; they are read defensively here so the writers work with and without them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from ..deps.model import DIRECT
from ..inventory import Artifact, Finding, Inventory, Kind, License

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def all_artifacts(inv: Inventory) -> Iterator[Artifact]:
    """Every artifact, depth first, including the parts nested in model directories (when present)."""

    def walk(artifact: Artifact, depth: int) -> Iterator[Artifact]:
        yield artifact
        if depth < 16:  # parts are built by aibom itself, but bound the walk anyway
            for part in getattr(artifact, "parts", None) or []:
                yield from walk(part, depth + 1)

    for artifact in inv.artifacts:
        yield from walk(artifact, 0)


def parts_of(artifact: Artifact) -> list[Artifact]:
    return list(getattr(artifact, "parts", None) or [])


def ancestors_of(artifact: Artifact) -> list[str]:
    """Refs of the base models this artifact was derived from."""
    return list(getattr(artifact, "ancestors", None) or [])


def datasets_of(artifact: Artifact) -> list[str]:
    """Refs of the datasets a model was trained or evaluated on."""
    info = artifact.model
    return list(getattr(info, "datasets", None) or []) if info is not None else []


def depends_on(artifact: Artifact) -> list[str]:
    """Refs this artifact depends on (datasets, base models, lock-file edges), deduplicated, in order."""
    refs = list(getattr(artifact, "depends_on", None) or []) + datasets_of(artifact)
    return list(dict.fromkeys(refs))


def is_external(artifact: Artifact) -> bool:
    return bool(getattr(artifact, "external", False))


def safe_id(prefix: str, ref: str, limit: int = 80) -> str:
    """An identifier made of [A-Za-z0-9.-] from a ref, unique by a short hash of the full ref."""
    digest = hashlib.sha256(ref.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    stem = _ID_UNSAFE.sub("-", ref).strip("-")[:limit] or "x"
    return f"{prefix}{stem}-{digest}"


def license_ref_id(lic: License) -> str:
    """A stable `LicenseRef-` id for a license known only by its name (or URL)."""
    label = lic.name or lic.url or lic.expression or "unknown"
    return safe_id("LicenseRef-", label, limit=48)


def split_findings(inv: Inventory) -> tuple[dict[str, list[Finding]], list[Finding]]:
    """Findings by the component they are about, and those about nothing in the BOM (kept on the BOM itself)."""
    by_component: dict[str, list[Finding]] = {}
    loose: list[Finding] = []
    known = {a.ref for a in inv.all_artifacts()}
    for f in inv.findings:
        (by_component.setdefault(f.component, []) if f.component in known else loose).append(f)
    return by_component, loose


def top_level_refs(inv: Inventory) -> list[str]:
    """What the root depends on: what was found in the project (its models and datasets, its direct
    libraries, and the files no dataset claims), not the hub models and datasets its cards only name."""
    refs = {a.ref for a in inv.artifacts}
    needed = {ref for a in inv.artifacts for ref in a.depends_on if ref in refs}
    return [
        a.ref
        for a in inv.artifacts
        if not a.external
        and (
            a.kind in (Kind.MODEL, Kind.DATASET)
            or (a.kind is Kind.LIBRARY and (a.properties.get(DIRECT) != "false" or a.ref not in needed))
            or (a.kind is Kind.FILE and a.ref not in needed)
        )
    ]


def dependency_refs(inv: Inventory) -> dict[str, list[str]]:
    """What each top-level artifact depends on among the BOM's components (never itself), sorted."""
    refs = {a.ref for a in inv.artifacts}
    return {a.ref: sorted({r for r in a.depends_on if r in refs and r != a.ref}) for a in inv.artifacts}
