"""How a dependency is recorded on a library artifact: purl ref, scope, directness, edges."""

from __future__ import annotations

import functools
from collections.abc import Callable

from packageurl import PackageURL

from ..inventory import Artifact, Evidence, Kind

SCOPE = "aibom:dependency:scope"  # runtime | optional | dev
GROUP = "aibom:dependency:group"  # extra or group names, comma-separated
DIRECT = "aibom:dependency:direct"  # true | false
SOURCE = "aibom:dependency:source"  # the file or environment that stated it
#: Stronger scopes win when one package is declared several ways.
SCOPE_RANK = {"runtime": 3, "optional": 2, "dev": 1}
#: inventory scope -> CycloneDX component scope
CDX_SCOPE = {"runtime": "required", "optional": "optional", "dev": "excluded"}


def canonicalize_name(name: str) -> str:
    """packaging's PEP 503 name, imported on first use: packaging.utils loads packaging.tags (platform
    probing, subprocess, logging), a fifth of a warm rescan's imports when the tree has no Python packages."""
    return _canonical()(name)


@functools.cache
def _canonical() -> Callable[[str], str]:
    from packaging.utils import canonicalize_name as canonical

    return canonical


DEV_GROUP_NAMES = frozenset({"dev", "develop", "test", "tests", "testing", "lint", "docs", "doc", "typing", "type"})


def purl_ref(name: str, version: str | None, ptype: str = "pypi", qualifiers: dict[str, str] | None = None) -> str:
    pname = canonicalize_name(name) if ptype == "pypi" else name.lower()
    return PackageURL(type=ptype, name=pname, version=version or None, qualifiers=qualifiers or None).to_string()


def dependency(
    name: str,
    version: str | None,
    *,
    location: str,
    line: int | None = None,
    scope: str | None = None,
    group: str | None = None,
    direct: bool | None = None,
    ptype: str = "pypi",
    qualifiers: dict[str, str] | None = None,
) -> Artifact:
    """A library artifact for `name` (at `version` if pinned/resolved) stated at `location`."""
    ref = purl_ref(name, version, ptype, qualifiers)
    pname = canonicalize_name(name) if ptype == "pypi" else name.lower()
    artifact = Artifact(kind=Kind.LIBRARY, name=pname, ref=ref, version=version or None, purl=ref)
    artifact.evidence.append(Evidence(location, line=line))
    artifact.properties[SOURCE] = location
    if scope:
        artifact.properties[SCOPE] = scope
    if group:
        artifact.properties[GROUP] = group
    if direct is not None:
        artifact.properties[DIRECT] = "true" if direct else "false"
    return artifact


def merge_dependency(existing: Artifact, new: Artifact) -> None:
    """Fold what `new` says about the same package into `existing`: strongest scope, direct wins."""
    for ev in new.evidence:
        if ev not in existing.evidence:
            existing.evidence.append(ev)
    old_scope, new_scope = existing.properties.get(SCOPE), new.properties.get(SCOPE)
    if new_scope and (not old_scope or SCOPE_RANK[new_scope] > SCOPE_RANK[old_scope]):
        existing.properties[SCOPE] = new_scope
    groups = {g for a in (existing, new) for g in a.properties.get(GROUP, "").split(",") if g}
    if groups:
        existing.properties[GROUP] = ",".join(sorted(groups))
    sources = {s for a in (existing, new) for s in a.properties.get(SOURCE, "").split(",") if s}
    if sources:
        existing.properties[SOURCE] = ",".join(sorted(sources))
    if "true" in (existing.properties.get(DIRECT), new.properties.get(DIRECT)):
        existing.properties[DIRECT] = "true"
    elif DIRECT in new.properties:
        existing.properties.setdefault(DIRECT, new.properties[DIRECT])
    for key, value in new.properties.items():
        existing.properties.setdefault(key, value)
    for ref in new.depends_on:
        if ref not in existing.depends_on:
            existing.depends_on.append(ref)
    if not existing.licenses and new.licenses:
        existing.licenses = list(new.licenses)
    for prov in new.provenance:
        if prov not in existing.provenance:
            existing.provenance.append(prov)
