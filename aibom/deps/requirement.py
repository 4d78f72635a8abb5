"""One PEP 508 requirement string -> a library artifact (or None when it cannot be read)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..inventory import Artifact
from .model import dependency

if TYPE_CHECKING:
    from packaging.requirements import Requirement


def pinned_version(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def from_pep508(
    text: object, location: str, *, scope: str, group: str | None = None, direct: bool = True
) -> Artifact | None:
    """The library a requirement string names; None if `text` is not a valid requirement."""
    if not isinstance(text, str) or len(text) > 4096:
        return None
    from packaging.requirements import InvalidRequirement, Requirement  # ~10 ms, only when one is read

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    qualifiers = {"download_url": req.url} if req.url else None
    artifact = dependency(
        req.name, pinned_version(req), location=location, scope=scope, group=group, direct=direct,
        qualifiers=qualifiers,
    )  # fmt: skip
    artifact.properties["aibom:requirement"] = str(req)
    if req.marker:
        artifact.properties["aibom:requirement:marker"] = str(req.marker)
    return artifact
